/**
 * What the client in sse-client.js does when the relay refuses a stream, decided from the status, the relay's error
 * code and Retry-After alone (so it is the same in every browser and in Node):
 *
 * - 401 → `refresh`: ask the token provider again at once, once; after that → `backoff`;
 * - 403 → `forbidden`: stop, the token may not read these topics;
 * - 400 `invalid_cursor` → `forget-cursor`: the relay does not know the cursor (another source, a forged id);
 * - 429 / 503 with Retry-After → `wait` that long (up to 20% more, so a crowd does not return in one burst);
 * - another 4xx → `fail`: retrying cannot help (a bad topic, a missing route);
 * - anything else (5xx, 429/503 without Retry-After, a 200 that is not an event stream) → `backoff`.
 *
 * @param {number} status
 * @param {string | undefined} code the `error` of the JSON body, if any
 * @param {string | null} retryAfter the Retry-After header
 * @param {boolean} canRefresh whether a token provider can be asked once more
 * @returns {{ kind: 'refresh' | 'forbidden' | 'forget-cursor' | 'fail' | 'backoff' } | { kind: 'wait', delayMs: number }}
 */
export function refusalAction(status, code, retryAfter, canRefresh, random = Math.random) {
  if (status === 401) return { kind: canRefresh ? 'refresh' : 'backoff' };
  if (status === 403) return { kind: 'forbidden' };
  if (status === 400 && code === 'invalid_cursor') return { kind: 'forget-cursor' };
  const wait = status === 429 || status === 503 ? retryAfterMs(retryAfter) : undefined;
  if (wait !== undefined) return { kind: 'wait', delayMs: Math.round(wait * (1 + 0.2 * random())) };
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'fail' };
  return { kind: 'backoff' };
}

// RFC 9110 §5.6.7 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. Checked before Date.parse, which reads almost
// anything (`1.5`, `-1`) as a date.
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** Retry-After as ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or malformed. */
export function retryAfterMs(value) {
  const text = typeof value === 'string' ? value.trim() : '';
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!HTTP_DATE.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** `{"error": code}` of a refusal, if the body is that. */
export async function errorCode(response) {
  return (await refusalBody(response)).code;
}

/** The code and message of a refusal's `{"error": code, "message": text}` body; each undefined where the body lacks it. */
export async function refusalBody(response) {
  try {
    const body = await response.json();
    return {
      code: typeof body?.error === 'string' ? body.error : undefined,
      message: typeof body?.message === 'string' ? body.message : undefined,
    };
  } catch {
    return { code: undefined, message: undefined };
  }
}

/** The `relay.reset` payload, guarded: whatever arrives, the app gets `{reason: string, topics: string[]}`. */
export function parseReset(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const reason = typeof value?.reason === 'string' ? value.reason : 'unknown';
  const topics = Array.isArray(value?.topics) ? value.topics.filter((t) => typeof t === 'string') : [];
  return { reason, topics };
}
