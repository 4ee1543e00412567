import { checkOptionNames, checkTimeoutMs } from './options.js';
import { PublishError } from './publish-error.js';

/** What onRetry is told before each retry. */
export interface HttpRetry {
  /** The attempt about to be made: 2 for the first retry. */
  attempt: number;
  /** Attempts in all, the first included (retries + 1). */
  attempts: number;
  /** How long it waits first, ms (the relay's Retry-After, else the jittered backoff). */
  delayMs: number;
  /** Why the previous attempt failed. */
  error: PublishError;
}

/** Options of httpTransport; every default is stated. */
export interface HttpTransportOptions {
  /**
   * Base URL of the relay (`https://relay.example.com`); `/publish` is appended. `http:` or `https:`, without a query or
   * fragment (they would be dropped), and without a user or password: fetch refuses such a URL, so they are accepted
   * only with a `fetch` of your own that handles them.
   */
  url: string;
  /**
   * A token with a `publish` grant, or a function returning one (called before each request; it has `timeoutMs` to
   * settle, and one that throws, rejects or does not settle in time fails the publish with PublishError `unavailable`,
   * not retried). Default: none.
   */
  token?: string | (() => string | Promise<string>) | undefined;
  /** Attempts after the first on 429, 503, other 5xx and network errors. Default 5. */
  retries?: number;
  /** First backoff when the relay sends no Retry-After, ms; doubles per attempt, with jitter. Default 200. */
  baseDelayMs?: number;
  /** Longest backoff between attempts when the relay sends no Retry-After, ms. Default 10000. */
  maxDelayMs?: number;
  /** Per-request timeout, ms; a token function gets as long again. Default 10000. */
  timeoutMs?: number;
  /**
   * Give every message without an `id` a random idempotency key, so a retry after a lost answer cannot store it
   * twice. Costs one marker per message in Redis mode (kept a day). Default true.
   */
  idempotent?: boolean;
  /** The fetch to use. Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Called before each retry (for progress output: the CLI prints it on stderr). Default: none. */
  onRetry?: ((retry: HttpRetry) => void) | undefined;
}

export type HttpSettings = Required<Omit<HttpTransportOptions, 'token' | 'onRetry'>> & Pick<HttpTransportOptions, 'token' | 'onRetry'>;

const OPTION_NAMES: readonly string[] = ['url', 'token', 'retries', 'baseDelayMs', 'maxDelayMs', 'timeoutMs', 'idempotent', 'fetch', 'onRetry'];

// The smallest value of each number option (retries must also be whole): an option passed as undefined would otherwise
// make `attempt >= retries` never true (retrying for ever) or the request timeout throw before anything is sent.
const MINIMUMS = { retries: 0, baseDelayMs: 0, maxDelayMs: 0 } as const;

/** The options with their defaults (one passed as `undefined` takes its default), checked; throws PublishError `invalid_config`. */
export function httpSettings(options: HttpTransportOptions): HttpSettings {
  if (typeof options?.url !== 'string' || !URL.canParse(options.url)) {
    throw new PublishError('invalid_config', `httpTransport needs url, the relay's base URL such as https://relay.example.com; got ${JSON.stringify(options?.url)}`);
  }
  checkOptionNames('httpTransport', options, OPTION_NAMES);
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const settings: HttpSettings = { retries: 5, baseDelayMs: 200, maxDelayMs: 10_000, timeoutMs: 10_000, idempotent: true, fetch: globalThis.fetch, ...given, url: options.url };
  for (const [name, minimum] of Object.entries(MINIMUMS)) {
    const value = settings[name as keyof typeof MINIMUMS];
    if (typeof value !== 'number' || !(value >= minimum) || (name === 'retries' && !Number.isInteger(value) && value !== Infinity)) {
      throw new PublishError('invalid_config', `httpTransport ${name} must be a ${name === 'retries' ? 'whole ' : ''}number ≥ ${minimum}; got ${String(value)}`);
    }
  }
  checkTimeoutMs('httpTransport', settings.timeoutMs);
  checkTypes(settings);
  return settings;
}

function checkTypes(settings: HttpSettings): void {
  const { token, idempotent, fetch, onRetry } = settings;
  if (token !== undefined && typeof token !== 'string' && typeof token !== 'function') {
    throw new PublishError('invalid_config', `httpTransport token must be a string (a JWT with a publish grant) or a function returning one; got ${typeOf(token)}`);
  }
  if (typeof idempotent !== 'boolean') throw new PublishError('invalid_config', `httpTransport idempotent must be true or false; got ${typeOf(idempotent)}`);
  if (typeof fetch !== 'function') throw new PublishError('invalid_config', `httpTransport fetch must be a function like globalThis.fetch; got ${typeOf(fetch)}`);
  if (onRetry !== undefined && typeof onRetry !== 'function') throw new PublishError('invalid_config', `httpTransport onRetry must be a function; got ${typeOf(onRetry)}`);
}

/**
 * The /publish endpoint under the base URL, checked: the scheme fetch can post to, no query or fragment (`new URL
 * ('publish', base)` drops them), and no credentials unless a fetch of the caller's own is given (globalThis.fetch throws
 * "Request cannot be constructed from a URL that includes credentials" on every call, which read as `unavailable` and was
 * retried). The error never repeats the URL: it may hold a password.
 */
export function publishEndpoint(settings: HttpSettings, ownFetch: boolean): URL {
  const base = new URL(settings.url);
  const refuse = (why: string): never => {
    throw new PublishError('invalid_config', `httpTransport url ${why}; url is the relay's base URL, such as https://relay.example.com`);
  };
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    refuse(`must be http: or https:; got ${base.protocol}${base.protocol.startsWith('redis') ? ' (a Redis URL belongs to redisTransport({ redis: new Redis(url) }))' : ''}`);
  }
  if ((base.username !== '' || base.password !== '') && !ownFetch) {
    refuse('must not hold a user or password (fetch refuses such a URL): pass a token with a publish grant as the token option, or a fetch of your own that handles the credentials');
  }
  if (base.search !== '' || base.hash !== '') refuse('must not have a query or fragment (they would be dropped when /publish is appended)');
  return new URL('publish', base.href.endsWith('/') ? base.href : `${base.href}/`);
}

function typeOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
