import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import { ERROR_CODES, errorBodyOf, RelayError } from '../errors.js';
import { ChunkedSocketSink, END_GRACE_MS } from './chunked-socket-sink.js';
import { GzipSink } from './gzip-sink.js';
import { ResponseSink } from './response-sink.js';
import { BodyBudget } from '../limits/body-budget.js';
import { handoffUnsupportedReason, idleAfterStream, returnStreamSocket, takeStreamSocket } from './http-socket-handoff.js';
import { INVALID_TARGET_PATH, originFormUrl, type RelayRequest, type RequestHandler, type StreamResponse } from '../request.js';


/** How the container finds the client address. */
export interface NodeListenerOptions {
  /** Use the last hop of X-Forwarded-For as the client address (TRUST_PROXY). Default false. */
  trustProxy?: boolean;
  /**
   * Hears each stream's end: how long it was open, seconds, and whether the client had gone (true) or the server ended
   * it (false). Called from the callback the stream already has, so measuring costs an idle stream nothing extra.
   */
  onStreamEnd?: (seconds: number, clientClosed: boolean) => void;
  /**
   * Whether a stream takes its socket from node:http once its headers are out (http-socket-handoff.ts): about half the
   * memory of an idle stream. Default: on where the Node major was tested (socketHandoffEnabled says so at startup).
   */
  socketHandoff?: boolean;
  /**
   * Ms within which a client must take a whole answer that is not a stream (REQUEST_TIMEOUT_MS); past it the connection
   * closes. Default: no bound.
   */
  answerTimeoutMs?: number;
  /** Bytes of request bodies held at once over all connections (MAX_BODY_BYTES_IN_FLIGHT). Default: no bound. */
  bodyBytesInFlight?: number;
}

/** A node:http request listener that serves `app`. It logs nothing itself: raw URLs may carry an access_token. */
export function nodeListener(app: RequestHandler, options: NodeListenerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const budget = new BodyBudget(options.bodyBytesInFlight ?? Number.POSITIVE_INFINITY);
  return (req, res) => {
    void serve(app, req, res, options, budget).catch(() => res.destroy());
  };
}

async function serve(app: RequestHandler, req: IncomingMessage, res: ServerResponse, options: NodeListenerOptions, budget: BodyBudget): Promise<void> {
  const response = await app.handle(toRelayRequest(req, res, options.trustProxy === true, budget));
  if (response.kind === 'stream') return startStream(req, res, response, options);
  const headers: Record<string, string | number> = { ...response.headers, 'content-length': Buffer.byteLength(response.body) };
  res.writeHead(response.status, headers);
  res.end(req.method === 'HEAD' ? undefined : response.body);
  // A body we did not read to its end (refused before reading, or too large) is not drained for the sake of keep-alive.
  if (!req.complete) res.once('finish', () => closeAfterAnswer(req));
  if (options.answerTimeoutMs !== undefined) sendWithin(req, res, options.answerTimeoutMs);
}

/**
 * Every byte has a deadline, those going out too. A client that pipelines requests and never reads the answers fills
 * the kernel's buffers, then node:http holds the rest in memory, and nothing ever ends the connection: node:http's
 * keep-alive timer starts only once an answer is out, and its request timeout only counts until the request is in.
 * Measured: 5 such connections asking 400 times each for /sse-client.js were still open after 150 s, holding 15 MB of
 * the server's memory. So an answer not handed to the kernel within `ms` closes its connection (the stream has its
 * own bound, CONNECTION_BUFFER_BYTES).
 */
function sendWithin(req: IncomingMessage, res: ServerResponse, ms: number): void {
  if (res.writableFinished) return;
  const timer = setTimeout(() => req.socket.destroy(), ms);
  timer.unref();
  const clear = (): void => clearTimeout(timer);
  res.once('finish', clear);
  res.once('close', clear);
}

// How long, and how many bytes, a refused body is still read and discarded after the answer.
const LINGER_MS = 2_000;
const LINGER_BYTES = 1_048_576;

/**
 * Closes a connection whose request body was refused, the way nginx's lingering close does: FIN first, then read and
 * discard what the client is still sending for at most LINGER_MS / LINGER_BYTES, then destroy. Closing at once with
 * unread bytes in the kernel's buffer sends a TCP reset, which can wipe the answer (a 401 or 413) before the client has
 * read it; draining to the end would let a client make the server swallow any amount it refused. (node:http with
 * `connection: close` destroys the socket as soon as the answer is written, hence no such header here: the FIN says it.)
 */
function closeAfterAnswer(req: IncomingMessage): void {
  const socket = req.socket;
  socket.end();
  let discarded = 0;
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.byteLength;
    if (discarded > LINGER_BYTES) socket.destroy();
  });
  req.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * Starts a stream on the next turn: by then node:http has parsed everything that came with the request (a pipelined
 * request among it) and is out of its parser's callbacks, so the socket can be taken from it (http-socket-handoff.ts).
 * Where it cannot, the stream goes through `res.write`. Not an async function on purpose: nothing of this frame should
 * stay suspended for the hours a stream is open, and nothing in the callbacks below refers to req or res.
 */
function startStream(req: IncomingMessage, res: ServerResponse, response: StreamResponse, options: NodeListenerOptions): void {
  const onEnd = response.refusal === true ? undefined : options.onStreamEnd;
  const started = onEnd === undefined ? 0 : Date.now();
  const handoff = options.socketHandoff ?? handoffUnsupportedReason() === undefined;
  setImmediate(() => runStream(openSink(req, res, response, handoff), response, started, onEnd));
}

// Its own function, so the stream's callback closes over the sink alone, not over this request's req and res.
function runStream(sink: ChunkedSocketSink | ServerResponse, response: StreamResponse, started: number, onEnd: NodeListenerOptions['onStreamEnd']): void {
  // COMPRESSION=gzip, negotiated by the core: the session writes through the gzip sink, which closes its gzip member
  // (final block and trailer) before the end; a no-op when the session ended it already.
  const plain = sink instanceof ChunkedSocketSink ? sink : new ResponseSink(sink);
  const coded = response.contentEncoding === 'gzip' ? new GzipSink(plain) : undefined;
  void response.run(coded ?? plain).then(() => {
    // Before the end: a sink already closed here means the client went away first.
    onEnd?.((Date.now() - started) / 1000, sink instanceof ChunkedSocketSink ? sink.clientClosed : sink.closed);
    coded?.end();
    endSink(sink);
  });
}

function openSink(req: IncomingMessage, res: ServerResponse, response: StreamResponse, handoff: boolean): ChunkedSocketSink | ServerResponse {
  res.writeHead(response.status, response.headers);
  res.flushHeaders();
  req.socket.setNoDelay(true);
  const socket = handoff ? takeStreamSocket(req, res) : undefined;
  if (socket === undefined && res.socket === null) closeWithConnection(req.socket, res);
  return socket === undefined ? res : new ChunkedSocketSink(socket, res.shouldKeepAlive, returnStreamSocket);
}

/**
 * A response queued behind another one on its connection (pipelined requests) has no socket yet, and node:http never
 * tells it that the connection closed: without this its stream would write into a response that can never be sent, and
 * hold its connection slot, until its session ran out. (A client that left before the stream began is seen by the hub:
 * the sink is destroyed by then.)
 */
function closeWithConnection(socket: Socket, res: ServerResponse): void {
  const close = (): void => {
    res.destroy();
    res.emit('close');
  };
  if (socket.destroyed) return close();
  socket.once('close', close);
  // Once the response ahead of it is done, the connection is this one's, and node:http reports its close.
  res.once('socket', () => socket.off('close', close));
}

function endSink(sink: ChunkedSocketSink | ServerResponse): void {
  if (sink instanceof ChunkedSocketSink) return sink.end();
  if (!sink.writableEnded) sink.end();
  if (!sink.closed) setTimeout(() => sink.destroy(), END_GRACE_MS).unref();
}

/** The request as the core sees it. A target that is not origin-form becomes the core's `invalidTarget` marker. */
function toRelayRequest(req: IncomingMessage, res: ServerResponse, trustProxy: boolean, budget: BodyBudget): RelayRequest {
  // HTTP/1.1 requires Host (RFC 9112 §3.2: a server must answer 400 without it). node:http's own check
  // (requireHostHeader) answers with an empty body and no log line, so the servers turn it off and the app refuses it.
  const hostless = req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && req.headers.host === undefined;
  const url = hostless ? undefined : originFormUrl(req.url ?? '');
  return {
    method: req.method ?? 'GET',
    path: url?.pathname ?? INVALID_TARGET_PATH,
    query: url?.searchParams ?? new URLSearchParams(),
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    remoteAddress: clientAddress(req, trustProxy),
    readBody: (limit) => {
      // The declared size is decided from the headers, before `100 Continue`: a body refused for it (over the limit, or
      // more than the budget has left) is never asked for. (Only bytes that arrived are counted, so a stalled client
      // holds what it sent, no more.)
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > limit) return Promise.reject(bodyTooLarge(limit));
      if (declared > 0 && !budget.fits(declared)) return Promise.reject(bodiesInFlightError(budget));
      continueIfExpected(req, res);
      return readBody(req, limit, budget);
    },
  };
}

// nginx's $proxy_add_x_forwarded_for appends the address it saw, so only the last hop is trustworthy.
function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  const socketAddress = req.socket.remoteAddress ?? 'unknown';
  const forwarded = req.headers['x-forwarded-for'];
  if (!trustProxy || typeof forwarded !== 'string') return socketAddress;
  const last = forwarded.split(',').at(-1)?.trim() ?? '';
  return /^[0-9A-Fa-f:.]{2,45}$/.test(last) ? last : socketAddress;
}

/**
 * A client that sent `Expect: 100-continue` waits for `100 Continue` before it sends its body. The servers hear such
 * requests through 'checkContinue' (see {@link continueOnRead}), so node:http does not send it at once: it goes out here,
 * when the app reads the body, i.e. once the headers passed every check (credentials, grants, rate, declared size).
 * A refused request gets its final answer instead, and the client never uploads a body nobody will read.
 */
function continueIfExpected(req: IncomingMessage, res: ServerResponse): void {
  // node:http's own test (lib/_http_server.js): HTTP/1.1 only, since an HTTP/1.0 client must never get a 1xx answer.
  const expects = req.httpVersion === '1.1' && /(?:^|\W)100-continue(?:$|\W)/i.test(req.headers.expect ?? '');
  if (expects && !res.headersSent) res.writeContinue();
}

/**
 * Serves `Expect: 100-continue` requests with `listener` too, leaving `100 Continue` to the moment the body is read
 * (node:http, with no 'checkContinue' listener, sends it before the request is even looked at).
 */
export function continueOnRead(server: Server, listener: (req: IncomingMessage, res: ServerResponse) => void): void {
  server.on('checkContinue', listener);
}

function bodyTooLarge(limit: number): RelayError {
  return new RelayError('body_too_large', `body is larger than MAX_BODY_BYTES (${limit})`);
}

function bodiesInFlightError(budget: BodyBudget): RelayError {
  return new RelayError('too_many_bodies', `request bodies arriving at once hold MAX_BODY_BYTES_IN_FLIGHT (${budget.limitBytes} bytes); retry after Retry-After`, { retryAfterSeconds: 1 });
}

/**
 * Reads the body up to `limit` bytes (a declared size over it was refused before). Past the limit it stops reading and
 * rejects; the rest is never drained (the answer closes the connection). The server's request timeout bounds how long
 * a body may take: when it fires the socket closes and this rejects, so no stalled body holds memory. Every byte held
 * is taken from `budget` as it arrives, and given back once the body is read, refused or abandoned.
 */
function readBody(req: IncomingMessage, limit: number, budget: BodyBudget): Promise<Uint8Array> {
  const tooLarge = (): RelayError => bodyTooLarge(limit);
  let taken = 0;
  const giveBack = (): void => {
    budget.give(taken);
    taken = 0;
  };
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (error: RelayError): void => {
      req.off('data', onData);
      req.pause();
      chunks.length = 0;
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength;
      if (size > limit) return stop(tooLarge());
      if (!budget.take(chunk.byteLength)) return stop(bodiesInFlightError(budget));
      taken += chunk.byteLength;
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    // Every request closes, most after their body was read: the error (and its stack) is only built when it applies.
    req.once('close', () => {
      if (!req.complete) reject(new RelayError('invalid_body', 'the connection closed before the body was complete'));
    });
    req.once('error', (error) => reject(new RelayError('invalid_body', 'the request body could not be read', { cause: error })));
  }).finally(giveBack);
}

/**
 * The server's `clientError` handler: a request node:http could not parse, or whose headers or body missed
 * REQUEST_TIMEOUT_MS, gets a status line and a closed connection, and a log line naming the parser's error code (never
 * the raw bytes, which may hold a token).
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, logger: Logger): void {
  // Node's request deadline passed on a connection idle since its stream ended: no request was sent, so none is
  // answered; node:http now counts it idle, and it closes after the keep-alive timeout (http-socket-handoff.ts).
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && idleAfterStream(socket)) return;
  const code = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'invalid_request';
  const { status } = ERROR_CODES[code];
  logger.info({ code: error.code ?? 'unknown', status }, 'request could not be read');
  // A response already under way on this socket (node:http's `_httpMessage`) must not get a second status line.
  const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || error.code === 'ECONNRESET' || current?.headersSent === true) return void socket.destroy();
  const reason = status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  // The same JSON error body as every other refusal, so a client reads one form whatever went wrong.
  const body = JSON.stringify(errorBodyOf(code));
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
}

/**
 * The servers' `connect` handler. A CONNECT request (authority-form target, a proxy's verb) parses, so it is no client
 * error, but node:http hands it to this event and, with no listener, drops the socket without an answer or a log line.
 * It gets 400 `invalid_request` and a closed connection, as any other target that is not origin-form.
 */
export function refuseConnect(socket: Duplex, logger: Logger | undefined): void {
  logger?.info({ method: 'CONNECT', status: 400 }, 'request refused: the target is not origin-form');
  socket.on('error', () => socket.destroy());
  const body = JSON.stringify(errorBodyOf('invalid_request'));
  socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
}
