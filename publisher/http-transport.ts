import { randomUUID } from 'node:crypto';
import { PublishError } from './publish-error.js';
import type { Published, PublishTransport } from './transport.js';

/** Options of httpTransport; every default is stated. */
export interface HttpTransportOptions {
  /** Base URL of the relay (`https://relay.example.com`); `/publish` is appended. */
  url: string;
  /** A token with a `publish` grant, or a function returning one (called before each request). Default: none. */
  token?: string | (() => string | Promise<string>) | undefined;
  /** Attempts after the first on 429, 503, other 5xx and network errors. Default 5. */
  retries?: number;
  /** First backoff when the relay sends no Retry-After, ms; doubles per attempt, with jitter. Default 200. */
  baseDelayMs?: number;
  /** Longest backoff between attempts when the relay sends no Retry-After, ms. Default 10000. */
  maxDelayMs?: number;
  /** Per-request timeout, ms. Default 10000. */
  timeoutMs?: number;
  /**
   * Give every message without an `id` a random idempotency key, so a retry after a lost answer cannot store it
   * twice. Costs one marker per message in Redis mode (kept a day). Default true.
   */
  idempotent?: boolean;
  /** The fetch to use. Default globalThis.fetch. */
  fetch?: typeof fetch;
}

const RETRIED_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/**
 * POST /publish. Retries 429 and 503 after `Retry-After` (and other 5xx and network failures with jittered backoff);
 * a 401 asks a token function once more at once. Any other refusal throws PublishError with the relay's code.
 */
export function httpTransport(options: HttpTransportOptions): PublishTransport {
  const settings = withDefaults(options);
  const endpoint = new URL('publish', settings.url.endsWith('/') ? settings.url : `${settings.url}/`);
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

type Settings = Required<Omit<HttpTransportOptions, 'token'>> & Pick<HttpTransportOptions, 'token'>;

// The smallest value of each number option (retries must also be whole): an option passed as undefined would otherwise
// make `attempt >= retries` never true (retrying for ever) or the request timeout throw before anything is sent.
const MINIMUMS = { retries: 0, baseDelayMs: 0, maxDelayMs: 0, timeoutMs: 1 } as const;

/** The options with their defaults (one passed as `undefined` takes its default), checked. */
function withDefaults(options: HttpTransportOptions): Settings {
  if (typeof options?.url !== 'string' || !URL.canParse(options.url)) {
    throw new PublishError('invalid_config', `httpTransport needs url, the relay's base URL such as https://relay.example.com; got ${JSON.stringify(options?.url)}`);
  }
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const settings: Settings = { retries: 5, baseDelayMs: 200, maxDelayMs: 10_000, timeoutMs: 10_000, idempotent: true, fetch: globalThis.fetch, ...given, url: options.url };
  for (const [name, minimum] of Object.entries(MINIMUMS)) {
    const value = settings[name as keyof typeof MINIMUMS];
    if (typeof value !== 'number' || !(value >= minimum) || (name === 'retries' && !Number.isInteger(value) && value !== Infinity)) {
      throw new PublishError('invalid_config', `httpTransport ${name} must be a ${name === 'retries' ? 'whole ' : ''}number ≥ ${minimum}; got ${String(value)}`);
    }
  }
  return settings;
}

// setTimeout's largest delay, ms; a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

async function postWithRetries(endpoint: URL, body: string, settings: Settings): Promise<Published> {
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
    await new Promise((resolve) => setTimeout(resolve, outcome.retryAfterMs ?? Math.min(settings.maxDelayMs, backoff)));
  }
}

type Outcome = Published | { status?: number; retryAfterMs?: number; error: PublishError };

async function postOnce(endpoint: URL, body: string, settings: Settings): Promise<Outcome> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token: unknown = typeof settings.token === 'function' ? await settings.token() : settings.token;
  if (token !== undefined && typeof token !== 'string') {
    throw new PublishError('invalid_config', `httpTransport token must be a string (a JWT with a publish grant), or a function returning one; got ${typeof token}`);
  }
  if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await settings.fetch(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(settings.timeoutMs) });
  } catch (error) {
    return { error: new PublishError('unavailable', `no answer from ${endpoint.origin} (${networkReason(error)}): is the relay running, and is url right?`, undefined, { cause: error }) };
  }
  const answer = (await response.json().catch(() => ({}))) as { id?: unknown; error?: unknown; message?: unknown };
  if (response.status === 202 && typeof answer.id === 'string') return { id: answer.id };
  const code = typeof answer.error === 'string' ? answer.error : 'unavailable';
  // A url that already names a route (`…/publish`, `…/events`) posts to a path the relay does not have.
  const hint = response.status === 404 ? ` (POST ${endpoint.pathname}: url must be the relay's base URL, such as https://relay.example.com; /publish is appended to it)` : '';
  const seconds = Number(response.headers.get('retry-after'));
  return {
    status: response.status,
    retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined,
    // The relay's own words on what was wrong (a 4xx names the problem with the message), when it gave them.
    error: new PublishError(code, `the relay answered ${response.status} ${code}${typeof answer.message === 'string' ? `: ${answer.message}` : ''}${hint}`, response.status),
  };
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
