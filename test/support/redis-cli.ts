import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs `redis-cli -p <port> <args…>` against 127.0.0.1 and returns its output, trimmed (orchestration of test servers). */
export async function redisCli(port: number, ...args: (string | number)[]): Promise<string> {
  const { stdout } = await run('/usr/bin/redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args.map(String)], { timeout: 30_000 });
  return stdout.trim();
}

/** Polls `check` every 50 ms until it returns a value other than undefined; rejects with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
