import { randomUUID } from 'node:crypto';
import { httpSettings, publishEndpoint, type HttpSettings, type HttpTransportOptions } from './http-options.js';
import { MAX_TIMER_MS } from './options.js';
import { PublishError } from './publish-error.js';
import type { Published, PublishTransport } from './transport.js';

export type { HttpRetry, HttpTransportOptions } from './http-options.js';

const RETRIED_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/**
 * POST /publish. Retries 429 and 503 after `Retry-After` (and other 5xx and network failures with jittered backoff);
 * a 401 asks a token function once more at once. Any other refusal throws PublishError with the relay's code.
 *
 * @throws {PublishError} `invalid_config`, at once, for a url that does not parse, is not http(s), has a query or
 *   fragment, or holds credentials (without a fetch of your own), and for an unknown option or a value of the wrong
 *   type or range. Its `send` rejects with PublishError: the relay's code for a refusal (`body_too_large` explains
 *   MAX_BODY_BYTES), `unavailable` once the retries are spent or when the token function fails or takes over timeoutMs.
 */
export function httpTransport(options: HttpTransportOptions): PublishTransport {
  const settings = httpSettings(options);
  const endpoint = publishEndpoint(settings, options.fetch !== undefined);
  return {
    send: async (message) => {
      const body = JSON.stringify({
        topic: message.topic, data: message.data, event: message.event === 'message' ? undefined : message.event,
        id: message.id ?? (settings.idempotent ? randomUUID() : undefined),
      });
      return postWithRetries(endpoint, body, settings);
    },
  };
}

async function postWithRetries(endpoint: URL, body: string, settings: HttpSettings): Promise<Published> {
  let refreshed = false;
  for (let attempt = 0; ; attempt++) {
    const outcome = await postOnce(endpoint, body, settings);
    if ('id' in outcome) return outcome;
    if (outcome.status === 401 && typeof settings.token === 'function' && !refreshed) {
      refreshed = true;
      continue;
    }
    const retriable = outcome.status === undefined || RETRIED_STATUS.has(outcome.status);
    // A Retry-After beyond what a timer can hold (about 24.8 days) is the relay saying "not in this call": give up now,
    // rather than let the timer overflow and fire at once, which would turn the retries into a tight loop.
    const tooLate = (outcome.retryAfterMs ?? 0) > MAX_TIMER_MS;
    if (!retriable || tooLate || attempt >= settings.retries) throw outcome.error;
    const backoff = settings.baseDelayMs * 2 ** attempt * (0.5 + Math.random());
    // Retry-After is honoured as given (it is the relay's word); only our own backoff is capped.
    const delayMs = outcome.retryAfterMs ?? Math.min(settings.maxDelayMs, backoff);
    settings.onRetry?.({ attempt: attempt + 2, attempts: settings.retries + 1, delayMs, error: outcome.error });
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

type Outcome = Published | { status?: number; retryAfterMs?: number; error: PublishError };

async function postOnce(endpoint: URL, body: string, settings: HttpSettings): Promise<Outcome> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = await tokenOf(settings);
  if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await settings.fetch(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(settings.timeoutMs) });
  } catch (error) {
    return { error: new PublishError('unavailable', `no answer from ${endpoint.origin} (${networkReason(error)}): is the relay running, and is url right?`, undefined, { cause: error }) };
  }
  const answer = (await response.json().catch(() => ({}))) as { id?: unknown; error?: unknown; message?: unknown };
  if (response.status === 202 && typeof answer.id === 'string') return { id: answer.id };
  // A 413 without the relay's body came from a proxy in front of it (nginx's client_max_body_size): the same limit.
  const code = typeof answer.error === 'string' ? answer.error : response.status === 413 ? 'body_too_large' : 'unavailable';
  const seconds = Number(response.headers.get('retry-after'));
  return {
    status: response.status,
    retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined,
    // The relay's own words on what was wrong (a 4xx names the problem with the message), when it gave them.
    error: new PublishError(code, `the relay answered ${response.status} ${code}${typeof answer.message === 'string' ? `: ${answer.message}` : ''}${hint(response.status, code, endpoint, body)}`, response.status),
  };
}

/** What a refusal means for the producer, when the relay's own message cannot know it. */
function hint(status: number, code: string, endpoint: URL, body: string): string {
  // A url that already names a route (`…/publish`, `…/events`) posts to a path the relay does not have.
  if (status === 404) return ` (POST ${endpoint.pathname}: url must be the relay's base URL, such as https://relay.example.com; /publish is appended to it)`;
  if (code !== 'body_too_large') return '';
  // The relay checks data against MAX_MESSAGE_BYTES, but first reads the whole JSON body against MAX_BODY_BYTES, and
  // JSON.stringify writes `"` and `\` as 2 bytes and a control character as 6: data within the one can pass the other.
  return ` (this request body, the message as JSON, was ${Buffer.byteLength(body)} bytes and exceeded the relay's MAX_BODY_BYTES (or a proxy's body limit). `
    + 'JSON escaping can grow data that is within MAX_MESSAGE_BYTES past it: a " or \\ takes 2 bytes, a control character 6. '
    + 'Raise MAX_BODY_BYTES on the relay (6 × MAX_MESSAGE_BYTES covers any data), or send smaller messages)';
}

/** The token for one request; a token function has timeoutMs to settle, and its failure is named as its own. */
async function tokenOf(settings: HttpSettings): Promise<string | undefined> {
  const source = settings.token;
  if (typeof source !== 'function') return source;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new PublishError('unavailable', `httpTransport token function gave no token within timeoutMs (${settings.timeoutMs} ms): it must resolve with a JWT string`)), settings.timeoutMs);
  });
  let token: unknown;
  try {
    // A provider that throws at once is caught here too (the call runs inside the promise chain).
    token = await Promise.race([Promise.resolve().then(source), deadline]);
  } catch (error) {
    if (error instanceof PublishError) throw error;
    throw new PublishError('unavailable', `httpTransport token function failed: ${error instanceof Error ? error.message : String(error)}`, undefined, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  if (token !== undefined && typeof token !== 'string') {
    throw new PublishError('invalid_config', `httpTransport token must be a string (a JWT with a publish grant), or a function returning one; got ${typeof token}`);
  }
  return token;
}

/** Why fetch failed, in a few words: undici puts the system error (ECONNREFUSED, ENOTFOUND…) in `cause`. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  // A port fetch refuses to use (1, 6000, …: the "bad ports" of the Fetch standard) fails with only a message.
  if (typeof cause?.message === 'string') return cause.message;
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer within timeoutMs';
  return error instanceof Error ? error.message : String(error);
}
