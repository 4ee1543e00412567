import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs `redis-cli -p <port> <args…>` against 127.0.0.1 and returns its output, trimmed (orchestration of test servers). */
export async function redisCli(port: number, ...args: (string | number)[]): Promise<string> {
  const { stdout } = await run('/usr/bin/redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args.map(String)], { timeout: 30_000 });
  return stdout.trim();
}
