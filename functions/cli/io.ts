/** Exit codes every command keeps, so scripts can tell a refusal from a typo from an outage. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The relay refused (a 4xx: bad token, forbidden topic, invalid message) — retrying will not help. */
  refused: 1,
  /** Bad arguments or environment (the usage is printed). */
  usage: 2,
  /** The relay could not be reached or stayed unavailable (network, 5xx) — retrying later may help. */
  unavailable: 3,
  /** A bug: an unexpected error (the stack is printed). EX_SOFTWARE of sysexits.h. */
  internal: 70,
  /**
   * Whoever read stdout went away (`sse-relay tail … | head -1`): stopped quietly, nothing more is published or printed.
   * 128 + SIGPIPE, the status `yes | head -1` leaves, so `set -o pipefail` tells it apart as with any Unix tool.
   */
  outputClosed: 141,
} as const;

/** Thrown for bad arguments; the command's usage goes to stderr with the message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A CLI command: its usage text and what it runs; resolves with the exit code. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[], env: NodeJS.ProcessEnv): Promise<number>;
}

/** The token from --token, else SSE_RELAY_TOKEN, else none. */
export function tokenFrom(option: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const token = option ?? env.SSE_RELAY_TOKEN;
  return token === undefined || token === '' ? undefined : token;
}

/** The --url option, checked to be an http(s) URL. */
export function baseUrl(value: string | undefined): string {
  if (value === undefined) throw new UsageError('--url <base> is required (e.g. --url http://localhost:8080)');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--url must be an http(s) URL; got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be http: or https:; got ${url.protocol}`);
  return url.href.replace(/\/$/, '');
}

/**
 * The value of a count flag (`--retries`, `--count`, `--port`): digits only, from `min` to `max`. Number() alone took
 * `1e3`, `0x10`, ` 3` and the empty string (as 0), so a typo became a thousand retries or none.
 */
export function digitsFlag(flag: string, value: string, { min, max = Number.MAX_SAFE_INTEGER, example }: { min: number; max?: number; example: string }): number {
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(number >= min && number <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new UsageError(`--${flag} takes a whole number ${range}, in digits only (e.g. --${flag} ${example}); got ${JSON.stringify(value)}`);
  }
  return number;
}

/**
 * `--count -1` as `--count=-1`, for the flags that take numbers: parseArgs refuses a value starting with a dash as
 * "ambiguous" without saying what the flag accepts; joined, digitsFlag refuses it with the accepted form.
 */
export function joinNegativeValues(args: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = args[i + 1];
    if (flags.includes(arg.replace(/^--/, '')) && arg.startsWith('--') && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}
