/**
 * Resolves once `predicate` holds, polling every `everyMs`; rejects after `timeoutMs` with `what` in the message, so a
 * failed wait says which condition never came true.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * Resolves with the value of `read` once it has stayed the same for `quietMs` (a queue that stopped draining, say);
 * rejects after `timeoutMs`.
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
