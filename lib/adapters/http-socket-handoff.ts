import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import { END_GRACE_MS } from './chunked-socket-sink.js';

/**
 * Node majors whose node:http internals the socket handoff was tested on (test/http/chunked-conformance.test.ts reads
 * the raw bytes with a strict HTTP/1.1 parser). On any other major the relay streams through `res.write` instead and
 * says so once at startup (docs/scaling.md, "How many streams one process holds").
 */
export const HANDOFF_TESTED_NODE_MAJORS: readonly number[] = [20, 22];

/** The parts of node:http's per-connection state the handoff touches (lib/_http_server.js, lib/_http_common.js). */
interface HttpParser {
  incoming: unknown;
}
type FreeParser = (parser: HttpParser, req: IncomingMessage | null, socket: Socket) => void;
/** What node:http hangs on a server-side socket; none of it is in the public types. */
interface HttpSocketInternals {
  parser?: HttpParser | null;
  server?: { emit(event: 'connection', socket: Socket): boolean; listening: boolean; keepAliveTimeout: number };
  _httpMessage?: unknown;
  _handle?: { _consumed?: boolean } | null;
}
type HttpSocket = Socket & HttpSocketInternals;

// Every listener node:http's connectionListener puts on a socket; each holds its per-connection state (parser, the
// queue of responses), so all of them go, or the request and response stay reachable for the life of the stream.
const HTTP_SOCKET_EVENTS = ['data', 'end', 'close', 'drain', 'error', 'timeout', 'resume', 'pause'] as const;

const freeParser = loadFreeParser();

function loadFreeParser(): FreeParser | undefined {
  try {
    const common = createRequire(import.meta.url)('_http_common') as { freeParser?: unknown };
    return typeof common.freeParser === 'function' ? (common.freeParser as FreeParser) : undefined;
  } catch {
    return undefined;
  }
}

/** Why the handoff is off on this Node version, or undefined when it is on. */
export function handoffUnsupportedReason(version: string = process.versions.node): string | undefined {
  const major = Number(version.split('.')[0]);
  if (!HANDOFF_TESTED_NODE_MAJORS.includes(major)) {
    return `Node ${version} is not one of the majors the socket handoff was tested on (${HANDOFF_TESTED_NODE_MAJORS.join(', ')})`;
  }
  if (freeParser === undefined) return `node:http's freeParser is missing in Node ${version}`;
  return undefined;
}

const UNSUPPORTED = handoffUnsupportedReason();

/**
 * Decides the handoff at startup and says so when it is off: the relay then streams through `res.write` (correct, about
 * twice the memory per idle stream), so an upgrade to an untested Node major is loud in the logs rather than broken.
 */
export function socketHandoffEnabled(logger: Logger, version: string = process.versions.node): boolean {
  const reason = handoffUnsupportedReason(version);
  if (reason !== undefined) logger.warn({ node: version }, `${reason}: streams go through res.write, with about twice the memory per idle stream (docs/scaling.md)`);
  return reason === undefined;
}

/**
 * Takes a stream's socket away from node:http once its headers are out, so the request, the response and the HTTP
 * parser (about 4 KiB a stream together) are garbage for the hours the stream is open. This is what node:http itself
 * does for an `upgrade`: its listeners off the socket, the parser freed. Undefined (nothing changed) when the handoff
 * is off or the connection is not a plain one: a request body not read to its end, a pipelined request already parsed
 * behind this one (node:http queues its response behind ours), or no chunked encoding (HTTP/1.0, HEAD).
 * Call it outside the parser's callbacks (a later turn), never while it is executing.
 */
export function takeStreamSocket(req: IncomingMessage, res: ServerResponse): Socket | undefined {
  const socket = req.socket as HttpSocket;
  const parser = socket.parser;
  if (UNSUPPORTED !== undefined || freeParser === undefined || parser == null || socket.server === undefined) return undefined;
  // `_httpMessage !== res`: this response is queued behind another one still being sent on the socket (two pipelined
  // streams): taking the socket would write this stream into the other's body and leave that one writing nowhere.
  if (socket._httpMessage !== res || parser.incoming !== req || !req.complete || req.method !== 'GET' || !res.chunkedEncoding || !res.headersSent || socket.destroyed) return undefined;
  for (const event of HTTP_SOCKET_EVENTS) socket.removeAllListeners(event);
  freeParser(parser, req, socket);
  // node:http reads a connection in C++ (`consume`); freeParser gave the reads back to JS, so a new parser may take them.
  if (socket._handle) socket._handle._consumed = false;
  socket._httpMessage = null;
  return socket;
}

/**
 * Gives a socket taken by takeStreamSocket back to node:http after the stream's last chunk, as a fresh keep-alive
 * connection (node:http's documented way to inject a connection), then replays the bytes of any request the client
 * pipelined meanwhile, so it is answered as if the stream had been an ordinary response.
 */
export function returnStreamSocket(socket: Socket, pipelined: Buffer | undefined): void {
  const server = (socket as HttpSocket).server;
  if (server === undefined || socket.destroyed) return void socket.destroy();
  // A server that stopped listening is shutting down: its remaining connections are being closed, so this one ends.
  if (!server.listening) {
    // node:http's listeners came off at the handoff: a client that resets meanwhile must not be an uncaught 'error'
    // (it threw from the drained server, or from the app that embeds it, once stop() had closed the listener).
    socket.on('error', () => undefined);
    socket.end();
    setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
    return;
  }
  server.emit('connection', socket);
  if (pipelined !== undefined) return void socket.emit('data', pipelined);
  keepIdle(socket, server.keepAliveTimeout);
}

/** Connections given back after a stream that wait for their next request: the bytes read when they came back. */
const idleSinceBytesRead = new WeakMap<object, number>();

/**
 * node:http takes a connection it is given as a new one, whose first request has REQUEST_TIMEOUT_MS to arrive, then
 * gets a 408. After a stream the connection is an idle keep-alive one instead: it closes quietly after the server's
 * keepAliveTimeout, as node:http closes every other. A 408 for a request nobody sent would reach a load balancer that
 * sent its next request just then as the answer to that request. The next request, once its first byte is in, has
 * its deadline as usual.
 */
function keepIdle(socket: Socket, keepAliveTimeout: number): void {
  const bytesRead = socket.bytesRead;
  idleSinceBytesRead.set(socket, bytesRead);
  if (keepAliveTimeout > 0) setTimeout(() => idleAfterStream(socket) && socket.destroy(), keepAliveTimeout).unref();
}

/** True for a connection given back after a stream on which not one byte of a next request has arrived since. */
export function idleAfterStream(socket: Duplex): boolean {
  const since = idleSinceBytesRead.get(socket);
  return since !== undefined && since === (socket as Partial<Socket>).bytesRead;
}
