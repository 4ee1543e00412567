import type { IncomingMessage, ServerResponse } from 'node:http';
import { RelayError } from '../errors.js';
import { ChunkedSocketSink } from './chunked-socket-sink.js';
import type { RelayRequest, RelayResponse, StreamResponse } from '../http-types.js';

/** Anything with the core's `handle` (RelayApp). */
export interface RequestHandler {
  handle(request: RelayRequest): Promise<RelayResponse>;
}

// A stream that was ended but whose client does not read its last bytes would hold its socket and buffer forever.
const END_GRACE_MS = 5_000;

/** How the container finds the client address. */
export interface NodeListenerOptions {
  /** Use the last hop of X-Forwarded-For as the client address (TRUST_PROXY). Default false. */
  trustProxy?: boolean;
}

/** A node:http request listener that serves `app`. It logs nothing itself: raw URLs may carry an access_token. */
export function nodeListener(app: RequestHandler, options: NodeListenerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void serve(app, req, res, options.trustProxy === true).catch(() => res.destroy());
  };
}

async function serve(app: RequestHandler, req: IncomingMessage, res: ServerResponse, trustProxy: boolean): Promise<void> {
  const response = await app.handle(toRelayRequest(req, trustProxy));
  if (response.kind === 'body') {
    res.writeHead(response.status, { ...response.headers, 'content-length': Buffer.byteLength(response.body) });
    res.end(req.method === 'HEAD' ? undefined : response.body);
    return;
  }
  startStream(req, res, response);
}

// Not an async function on purpose: nothing of this frame should stay suspended for the hours a stream is open.
function startStream(req: IncomingMessage, res: ServerResponse, response: StreamResponse): void {
  res.writeHead(response.status, response.headers);
  res.flushHeaders();
  req.socket.setNoDelay(true);
  // Node frames chunks itself only while it sends chunked; a response it would send otherwise (HTTP/1.0) gets res.
  const sink = res.chunkedEncoding ? new ChunkedSocketSink(res, req.socket) : res;
  void response.run(sink).then(() => {
    if (!res.writableEnded) res.end();
    if (!res.closed) setTimeout(() => res.destroy(), END_GRACE_MS).unref();
  });
}

function toRelayRequest(req: IncomingMessage, trustProxy: boolean): RelayRequest {
  const url = new URL(req.url ?? '/', 'http://relay.invalid');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    remoteAddress: clientAddress(req, trustProxy),
    readBody: (limit) => readBody(req, limit),
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

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const tooLarge = (): RelayError => new RelayError('body_too_large', `body is larger than MAX_BODY_BYTES (${limit})`);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', (error) => reject(new RelayError('invalid_body', 'the request body could not be read', { cause: error })));
  });
}
