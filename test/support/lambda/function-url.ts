import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { toFunctionUrlEvent } from './function-url-event.js';
import type { Invocation, InvocationEnd, InvocationResponse } from './invocation.js';
import type { HttpPrelude } from './prelude-splitter.js';

/** BUFFERED or RESPONSE_STREAM, the function URL's invoke mode. */
export type InvokeMode = 'stream' | 'buffered';

/** Thrown by an `invoke` callback when every sandbox is busy: the front end answers 429. */
export class ThrottledError extends Error {
  override readonly name = 'ThrottledError';
}

export interface FunctionUrlOptions {
  /** Hands one event to the function; may throw ThrottledError. */
  invoke: (event: unknown) => Promise<Invocation>;
  /** 'stream' forwards body bytes as they arrive; 'buffered' sends the response once complete. */
  mode: InvokeMode;
  /**
   * Stream mode: hold body bytes until at least this many are waiting, then forward them together, as function URLs
   * have been seen to hold small writes (aws-lambda-nodejs-runtime-interface-client#94, #102: 16–100 KB). Default 0:
   * every chunk goes out as it arrives.
   */
  holdBelowBytes?: number;
}

export interface FunctionUrl {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  close(): Promise<void>;
}

/** Starts a function-URL front end on an ephemeral loopback port. */
export async function startFunctionUrl(options: FunctionUrlOptions): Promise<FunctionUrl> {
  const server = createServer((req, res) => {
    void handle(req, res, options).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { Message: `harness error: ${String(error)}` });
    });
  });
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: FunctionUrlOptions): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let invocation: Invocation;
  try {
    invocation = await options.invoke(toFunctionUrlEvent(req, Buffer.concat(chunks), randomUUID()));
  } catch (error) {
    if (error instanceof ThrottledError) return sendJson(res, 429, { Message: 'Rate Exceeded.' });
    throw error;
  }
  const response = await invocation.response;
  if (response.kind === 'error') return sendJson(res, 502, { Message: 'Internal Server Error' });
  if (response.kind === 'buffered') return sendPayload(res, response.payload);
  res.writeHead(...streamHead(response));
  if (options.mode === 'buffered') {
    const body: Buffer[] = [];
    for await (const chunk of response.body) body.push(chunk as Buffer);
    const end = await invocation.done;
    if (end.error) res.destroy();
    else res.end(Buffer.concat(body));
    return;
  }
  res.flushHeaders();
  forwardBody(response.body, res, invocation.done, options.holdBelowBytes ?? 0);
}

/** Status and headers of a streamed response, from its prelude or (without one) its content type. */
function streamHead(response: Extract<InvocationResponse, { kind: 'stream' }>): [number, Record<string, string | string[]>] {
  const prelude: HttpPrelude = response.prelude ?? { statusCode: 200, headers: { 'content-type': response.contentType } };
  const headers: Record<string, string | string[]> = { ...prelude.headers };
  if (prelude.cookies && prelude.cookies.length > 0) headers['set-cookie'] = prelude.cookies;
  return [prelude.statusCode ?? 200, headers];
}

/**
 * Pipes body bytes to the client as they come (or, with `holdBelowBytes`, once that many wait), honouring the client's
 * backpressure. A client that
 * goes away changes nothing for the function — a function URL gives it no disconnect signal — so
 * the rest of the body is drained and dropped. A failed invocation cuts the connection.
 */
function forwardBody(body: Readable, res: ServerResponse, done: Promise<InvocationEnd>, holdBelowBytes: number): void {
  let clientGone = false;
  let held: Buffer[] = [];
  let heldBytes = 0;
  res.on('close', () => {
    clientGone = true;
    body.resume();
  });
  body.on('data', (chunk: Buffer) => {
    if (clientGone) return;
    held.push(chunk);
    heldBytes += chunk.byteLength;
    if (heldBytes < holdBelowBytes) return;
    const out = Buffer.concat(held);
    [held, heldBytes] = [[], 0];
    if (res.write(out)) return;
    body.pause();
    res.once('drain', () => body.resume());
  });
  body.on('error', () => res.destroy());
  body.on('end', () => {
    if (heldBytes > 0 && !clientGone) res.write(Buffer.concat(held));
    void done.then((end) => (end.error ? res.destroy() : res.end()));
  });
}

/** Interprets a buffered handler result the way a function URL does for payload format 2.0. */
function sendPayload(res: ServerResponse, payload: unknown): void {
  if (typeof payload !== 'object' || payload === null || !('statusCode' in payload)) {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return;
  }
  const result = payload as { statusCode: number; headers?: Record<string, unknown>; cookies?: string[]; body?: string; isBase64Encoded?: boolean };
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies && result.cookies.length > 0) headers['set-cookie'] = result.cookies;
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  res.writeHead(result.statusCode, headers).end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
