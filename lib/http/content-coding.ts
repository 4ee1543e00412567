import type { CompressionMode } from '../config/index.js';
import { RelayError } from '../errors.js';
import type { HeaderMap, RelayRequest, StreamResponse } from '../request.js';

/**
 * Whether an `Accept-Encoding` header (RFC 9110 §12.5.3) accepts gzip: `gzip` (or its alias `x-gzip`) with a weight
 * above 0, or, when gzip is not named, `*` with a weight above 0. `gzip;q=0` refuses it; no header means no coding.
 * A member that does not parse (a bad weight) is ignored rather than refused: the stream then goes out as it is, which
 * every client can read.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const member of header.split(',')) {
    const [name = '', ...params] = member.split(';').map((part) => part.trim());
    const coding = name.toLowerCase();
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const weight = weightOf(params);
    if (weight === undefined) continue;
    if (coding === '*') any = Math.max(any ?? 0, weight);
    else gzip = Math.max(gzip ?? 0, weight);
  }
  return (gzip ?? any ?? 0) > 0;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); no `q` parameter means 1.
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

function weightOf(params: readonly string[]): number | undefined {
  const q = params.find((param) => /^q\s*=/i.test(param));
  if (q === undefined) return 1;
  const value = q.slice(q.indexOf('=') + 1).trim();
  return QVALUE.test(value) ? Number(value) : undefined;
}

/**
 * Applies COMPRESSION to an event stream: with `gzip`, the stream says that it varies by `Accept-Encoding`, and is
 * gzip-encoded (the adapter compresses, see lib/adapters/gzip-sink.ts) when the client accepts it. `off` leaves it.
 */
export function negotiateStreamCoding(stream: StreamResponse, acceptEncoding: string | undefined, mode: CompressionMode): StreamResponse {
  if (mode !== 'gzip') return stream;
  if (!acceptsGzip(acceptEncoding)) return { ...stream, headers: { ...stream.headers, vary: 'Accept-Encoding' } };
  return { ...stream, contentEncoding: 'gzip', headers: { ...stream.headers, vary: 'Accept-Encoding', 'content-encoding': 'gzip' } };
}

/** Headers of `base` with `extra` on top, their `vary` lists joined (each name once) rather than overwritten. */
export function withHeaders(base: HeaderMap, extra: HeaderMap): HeaderMap {
  const names = [base['vary'], extra['vary']].flatMap((value) => value?.split(',').map((name) => name.trim()).filter(Boolean) ?? []);
  const vary = names.filter((name, i) => names.findIndex((other) => other.toLowerCase() === name.toLowerCase()) === i).join(', ');
  return { ...base, ...extra, ...(vary === '' ? {} : { vary }) };
}

/**
 * Throws `unsupported_media_type` for a request body in a coding the relay does not decode. node:http removes the
 * chunked framing and nothing else, and the relay read what was left as JSON: a gzip-compressed publish was refused as
 * "not UTF-8 JSON", which sends its author looking for the wrong mistake, and `Transfer-Encoding: gzip, chunked` was
 * read as if the gzip were not there. `identity` is no coding, and so is a list of them.
 */
export function assertPlainBody(request: RelayRequest, route: string): void {
  const content = codingsOf(request.header('content-encoding')).filter((coding) => coding !== 'identity');
  if (content.length > 0) {
    throw new RelayError('unsupported_media_type', `${route} takes a body without Content-Encoding (${content.join(', ')} was sent): send it uncompressed`);
  }
  const transfer = codingsOf(request.header('transfer-encoding')).filter((coding) => coding !== 'chunked');
  if (transfer.length > 0) {
    throw new RelayError('unsupported_media_type', `${route} takes a body in Transfer-Encoding chunked only (${transfer.join(', ')} was sent): send it uncompressed`);
  }
}

function codingsOf(header: string | undefined): string[] {
  return (header ?? '').split(',').map((coding) => coding.trim().toLowerCase()).filter(Boolean);
}
