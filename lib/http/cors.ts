import type { BodyResponse, HeaderMap } from '../request.js';

/** Methods a cross-origin page may use, per route that answers preflights. */
const PREFLIGHT_ROUTES: Record<string, string> = {
  '/events': 'GET',
  '/publish': 'POST',
  '/ack': 'POST',
};

// What a cross-origin caller may send: the token header, the JSON body type, a resume cursor and a request id.
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'last-event-id', 'x-request-id'] as const;
// What a cross-origin script may read beyond the CORS-safelisted response headers.
export const CORS_EXPOSED_HEADERS = ['retry-after', 'x-request-id', 'sse-ack-url'] as const;
/** Seconds a browser may cache a preflight answer. */
export const CORS_MAX_AGE_SECONDS = 600;

/**
 * The CORS policy of both runtimes: an exact-match allowlist of origins (CORS_ORIGINS). An allowed origin is echoed
 * back with `Access-Control-Allow-Credentials: true` (cookies may carry the token), so `*` is never sent. Any other
 * origin — unlisted, `null`, or malformed — gets no CORS header at all and is never echoed. Every response carries
 * `Vary: Origin` so caches keep per-origin answers apart.
 */
export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;

  /**
   * @param origins exact origins (`https://app.example.com`, no path, no trailing slash); loadConfig checks the form.
   * @param maxAgeSeconds how long a browser may cache a preflight answer. Default 600 s.
   */
  constructor(origins: readonly string[], private readonly maxAgeSeconds = CORS_MAX_AGE_SECONDS) {
    this.origins = new Set(origins);
  }

  /** Whether `path` answers an OPTIONS preflight. */
  handlesPreflight(path: string): boolean {
    return PREFLIGHT_ROUTES[path] !== undefined;
  }

  /** The CORS headers to add to any response (errors and streams too) for a request with this `Origin`. */
  headersFor(origin: string | undefined): HeaderMap {
    if (origin === undefined || !this.origins.has(origin)) return { vary: 'Origin' };
    return {
      vary: 'Origin',
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': CORS_EXPOSED_HEADERS.join(', '),
    };
  }

  /**
   * True for a stream a browser asks for on behalf of a page of another origin that is not allowed: it sends `Origin`
   * with a cross-origin GET only (never a same-origin one), and says where the page is in `Sec-Fetch-Site`. Such a
   * page cannot read the answer, yet its browser sends the `sse_token` cookie along (a sibling subdomain is same-site,
   * so even SameSite=Strict goes), so the relay would open the stream for nothing, and on a queue source hand it (and
   * delete) the user's messages. Refused up front. A browser without fetch metadata, and every non-browser client,
   * is judged by its token alone, as before.
   */
  refusesStreamFor(origin: string | undefined, fetchSite: string | undefined): boolean {
    if (origin === undefined || this.origins.has(origin)) return false;
    return fetchSite === 'cross-site' || fetchSite === 'same-site';
  }

  /** The answer to `OPTIONS path`: 204, with the allowed methods and headers when the origin is allowed. */
  preflight(path: string, origin: string | undefined): BodyResponse {
    const headers = this.headersFor(origin);
    if (headers['access-control-allow-origin'] !== undefined) {
      headers['access-control-allow-methods'] = `${PREFLIGHT_ROUTES[path] ?? 'GET'}, OPTIONS`;
      headers['access-control-allow-headers'] = CORS_ALLOWED_HEADERS.join(', ');
      headers['access-control-max-age'] = String(this.maxAgeSeconds);
    }
    return { kind: 'body', status: 204, headers, body: '' };
  }
}
