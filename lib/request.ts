import type { ByteSink } from './engine/byte-sink.js';

/** A request as the core sees it: what an adapter extracts from node:http or a function-URL event. */
export interface RelayRequest {
  /** Upper-case HTTP method. */
  method: string;
  /** Path without the query string, e.g. `/events`. */
  path: string;
  query: URLSearchParams;
  /** A header by lower-case name (repeated headers comma-joined), or undefined. */
  header(name: string): string | undefined;
  /** Address of the client (for per-client limits). */
  remoteAddress: string;
  /** The body, read up to `limit` bytes; rejects with `body_too_large` past it. */
  readBody(limit: number): Promise<Uint8Array>;
  /** Epoch ms by which a stream must have ended (the Lambda invocation deadline less its margin); none in the container. */
  deadline?: number | undefined;
}

/**
 * The path an adapter reports for a request target that is not origin-form (`//host/x`, `http://…`, `*`) or does not
 * parse. It cannot be a real path (it does not start with `/`), and the app answers it with 400 `invalid_request`.
 */
export const INVALID_TARGET_PATH = '(invalid request target)';

const TARGET_BASE_HOST = 'relay.invalid';
const TARGET_BASE = `http://${TARGET_BASE_HOST}`;

/**
 * Parses an origin-form request target (`/path?query`), the one way both adapters read a path. Anything else is
 * refused: `//host/path` would be read by URL as an authority (so `//x/metrics` became path `/metrics` behind a proxy
 * that saw `//x/metrics`), and absolute-form or `*` targets have no business here. Undefined when the target is not
 * origin-form or does not parse.
 */
export function originFormUrl(target: string): URL | undefined {
  if (target[0] !== '/' || target[1] === '/' || hasBackslashInPath(target)) return undefined;
  try {
    const url = new URL(target, TARGET_BASE);
    // Whatever else the URL parser may read as an authority is not a path either.
    return url.host === TARGET_BASE_HOST ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A backslash is no character of an origin-form path (RFC 3986 §3.3), but the URL parser reads it as `/` in an http
 * URL: `/\x/metrics` became host `x`, path `/metrics`, and `/events\..\metrics` became `/metrics`, while a proxy
 * matching paths (nginx on Linux, a load balancer's rule) saw neither. The query may hold one (it names no path).
 */
function hasBackslashInPath(target: string): boolean {
  const query = target.indexOf('?');
  return (query === -1 ? target : target.slice(0, query)).includes('\\');
}

export type HeaderMap = Record<string, string>;

/** A complete response with a body. */
export interface BodyResponse {
  kind: 'body';
  status: number;
  headers: HeaderMap;
  body: string | Uint8Array;
}

/** A response whose body is written over time (the SSE stream). */
export interface StreamResponse {
  kind: 'stream';
  status: 200;
  headers: HeaderMap;
  /**
   * `gzip` when the headers say `content-encoding: gzip`: the adapter then compresses what `run` writes (the core only
   * negotiates). Unset: the bytes go out as written.
   */
  contentEncoding?: 'gzip';
  /**
   * True for a refusal sent as a stream (reconnect-hint.ts: `retry:` only, counted in sse_http_errors_total): the
   * adapter then leaves it out of the stream metrics (ends, duration), as the hub leaves it out of the streams opened.
   */
  refusal?: true;
  /**
   * Writes the stream into `sink` and resolves when it is over; the adapter then ends the response. The sink's `close`
   * event means the client went away (Lambda never reports that). Never rejects.
   */
  run(sink: ByteSink): Promise<void>;
}

export type RelayResponse = BodyResponse | StreamResponse;

/** Anything with the core's `handle` (RelayApp): what each runtime's adapter serves. */
export interface RequestHandler {
  handle(request: RelayRequest): Promise<RelayResponse>;
}

/** Headers of every SSE stream; identical in both runtimes. No hop-by-hop headers (they break HTTP/2). */
export const SSE_HEADERS: HeaderMap = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

/** A JSON response. */
export function json(status: number, value: unknown, headers: HeaderMap = {}): BodyResponse {
  return { kind: 'body', status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(value) };
}

/**
 * True when `value` is an origin in its exact serialized form (scheme, host, optional port; nothing else). A `*` is
 * refused although the URL parser keeps it in a host (`https://*.example.com`): no browser sends it, so it would only
 * look like a wildcard that matches nothing.
 */
export function isExactOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value && !value.includes('*');
  } catch {
    return false;
  }
}
