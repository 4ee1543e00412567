/** How long to wait and how often to look. */
export interface WaitOptions {
  /** Give up after this many ms (default 10,000). */
  timeoutMs?: number;
  /** Look again after this many ms (default 25). */
  everyMs?: number;
  /**
   * Treat a throwing check as "not yet" (default false): for orchestration of servers that refuse connections while
   * they start. The last error is named in the timeout message.
   */
  retryOnError?: boolean;
}

/** For waits on test servers (a cluster settling, a replica syncing): slower checks, longer patience, and a check that throws while a server starts is looked at again. */
export const ORCHESTRATION: WaitOptions = { timeoutMs: 20_000, everyMs: 50, retryOnError: true };

/** What a check returns while its condition does not hold yet. */
type NotYet = false | undefined | null;

/**
 * The one way tests wait for a condition: resolves with the first value of `check` that is not false, undefined or null
 * (so a check can hand back what it found), looking every `everyMs`; rejects after `timeoutMs` with `what` in the
 * message, so a failed wait says which condition never came true (a function for `what` is asked at that moment, to
 * name what was seen). A number in `options` is the timeout.
 */
export async function waitFor<T>(check: () => T | Promise<T>, what: string | (() => string), options: WaitOptions | number = {}): Promise<Exclude<T, NotYet>> {
  const { timeoutMs = 10_000, everyMs = 25, retryOnError = false } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false && value !== undefined && value !== null) return value as Exclude<T, NotYet>;
    } catch (error) {
      if (!retryOnError) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${typeof what === 'string' ? what : what()}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Resolves with the value of `read` once it has stayed the same for `quietMs` (a queue that stopped draining, say);
 * rejects after `timeoutMs`. This is the one place a test waits for time to pass: proving that nothing more happens.
 */
export async function waitForSteady<T>(read: () => Promise<T>, what: string, quietMs = 750, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  let since = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = await read();
    if (now !== last) [last, since] = [now, Date.now()];
    else if (Date.now() - since >= quietMs) return now;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for a steady ${what}`);
  }
}
