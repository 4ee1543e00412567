import { test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { bundleTs } from '../../scripts/bundle-ts.mjs';
import { waitFor } from '../support/wait-for.js';

const run = promisify(execFile);

// Whether something accepts connections on 127.0.0.1:port.
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
  });
}

// Pids of processes whose command line holds `needle` (to clean up after a failure, by pid).
function pidsWith(needle: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(needle);
    } catch {
      return false;
    }
  }).map(Number);
}

test('a test process that exits without stopping its redis-server and nginx takes them with it', async () => {
  const fixture = await bundleTs('test/redis/fixtures/abandon-daemons.ts', '.esbuild/owned-daemons');
  const { stdout } = await run(process.execPath, [fixture], { timeout: 20_000 });
  const { redisPort, nginxPort, nginxDir } = JSON.parse(stdout) as { redisPort: number; nginxPort: number; nginxDir: string };
  try {
    await waitFor(async () => !(await listening(redisPort)) && !(await listening(nginxPort)),
      `redis-server on ${redisPort} and nginx on ${nginxPort} to go with the process that started them`, { timeoutMs: 5_000, everyMs: 50 });
  } finally {
    // redis-server retitles itself `redis-server 127.0.0.1:port`; nginx's master keeps its -p folder and stops its
    // workers on SIGTERM.
    for (const pid of pidsWith(`127.0.0.1:${redisPort}`)) process.kill(pid, 'SIGKILL');
    for (const pid of pidsWith(nginxDir)) process.kill(pid, 'SIGTERM');
  }
}, 30_000);
