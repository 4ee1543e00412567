import type { IncomingMessage, ServerResponse } from 'node:http';
import { RelayError } from '../errors.js';
import type { RelayRequest, RelayResponse } from '../http-types.js';

/** Anything with the core's `handle` (RelayApp). */
export interface RequestHandler {
  handle(request: RelayRequest): Promise<RelayResponse>;
}

// A stream that was ended but whose client does not read its last bytes would hold its socket and buffer forever.
const END_GRACE_MS = 5_000;

/** A node:http request listener that serves `app`. */
export function nodeListener(app: RequestHandler): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void serve(app, req, res).catch(() => res.destroy());
  };
}

async function serve(app: RequestHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  const response = await app.handle(toRelayRequest(req, gone.signal));
  if (response.kind === 'body') {
    res.writeHead(response.status, { ...response.headers, 'content-length': Buffer.byteLength(response.body) });
    res.end(req.method === 'HEAD' ? undefined : response.body);
    return;
  }
  res.writeHead(response.status, response.headers);
  res.flushHeaders();
  req.socket.setNoDelay(true);
  await response.run(res, gone.signal);
  if (!res.writableEnded) res.end();
  if (!gone.signal.aborted) setTimeout(() => res.destroy(), END_GRACE_MS).unref();
}

function toRelayRequest(req: IncomingMessage, signal: AbortSignal): RelayRequest {
  const url = new URL(req.url ?? '/', 'http://relay.invalid');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    remoteAddress: req.socket.remoteAddress ?? 'unknown',
    readBody: (limit) => readBody(req, limit),
    signal,
  };
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
