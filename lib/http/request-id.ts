/** Response (and accepted request) header that carries the request id. */
export const REQUEST_ID_HEADER = 'x-request-id';

// An id from a proxy is kept only if it is short and plain, so it cannot inject anything into a header or a log line.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** The id of a request: a sane incoming `X-Request-Id` (nginx, a load balancer), else a fresh random UUID. */
export function requestIdOf(incoming: string | undefined): string {
  return incoming !== undefined && SANE_REQUEST_ID.test(incoming) ? incoming : globalThis.crypto.randomUUID();
}
