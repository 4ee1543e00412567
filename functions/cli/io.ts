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
