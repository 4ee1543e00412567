// Starts and stops the servers under test as child processes with a raised file limit, and reads their RSS and CPU
// time from /proc (Linux only).
/* global process, URL, setTimeout */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer } from 'node:net';

export const FILE_LIMIT = 20_000;
const CLOCK_TICKS = 100; // USER_HZ on Linux
const ROOT = new URL('..', import.meta.url).pathname;

/** A free loopback TCP port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `command` with the file limit raised and, when `cpu` is a number, pinned to that CPU (`--pin`). */
export function spawnWithLimit(command, args, env, cpu) {
  // `exec` keeps the pid (taskset execs too), so /proc/<pid> is the server itself, not the shell.
  const pin = cpu === undefined ? '' : `taskset -c ${cpu} `;
  return spawn('/bin/sh', ['-c', `ulimit -n ${FILE_LIMIT} 2>/dev/null; exec ${pin}"$0" "$@"`, command, ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'], cwd: ROOT,
  });
}

export async function waitHealthy(port, child, path = '/healthz') {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before it was healthy`);
    const ok = await new Promise((resolve) => {
      get({ host: '127.0.0.1', port, path }, (res) => { res.resume(); resolve(res.statusCode === 200); }).on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server on port ${port} not healthy after 15 s`);
}

/** RSS (bytes) and user+system CPU seconds of a process. */
export function processStats(pid) {
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // After "pid (comm) ", field 3 (state) is index 0, so utime (14) and stime (15) are indexes 11 and 12.
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  return { rss: rssKb * 1024, cpuSeconds };
}

async function stopChild(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/**
 * sse-relay's container server (dist/functions/server.js), memory or Redis Streams mode, limits opened up, `env` on top.
 * `signal(name)` sends a signal to it (by pid) and resolves with its exit code once it has exited.
 */
export async function startRelay({ source, redisUrl, compression, env = {}, cpu }) {
  const port = await freePort();
  const child = spawnWithLimit(process.execPath, ['dist/functions/server.js'], {
    PORT: String(port), HOST: '127.0.0.1', SOURCE: source, LOG_LEVEL: 'warn', AUTH_MODE: 'none', DEMO: 'false',
    MAX_CONNECTIONS: '20000', MAX_CONNECTIONS_PER_CLIENT: '20000', PUBLISH_RATE_PER_MINUTE: '0',
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}), ...(compression ? { COMPRESSION: 'gzip' } : {}), ...env,
  }, cpu);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  await waitHealthy(port, child, '/readyz');
  const signal = (name) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    return exited;
  };
  return { port, pid: child.pid, stop: () => stopChild(child), signal };
}

/** The raw node:http floor (bench/floor-server.mjs). */
export async function startFloor({ cpu } = {}) {
  const port = await freePort();
  const child = spawnWithLimit(process.execPath, ['bench/floor-server.mjs'], { PORT: String(port) }, cpu);
  await waitHealthy(port, child);
  return { port, pid: child.pid, stop: () => stopChild(child) };
}

/** A throw-away redis-server on a free port, no persistence; pinned to `cpu` when given. */
export async function startRedis({ cpu } = {}) {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = cpu === undefined
    ? spawn('/usr/bin/redis-server', args, { stdio: 'ignore' })
    : spawn('taskset', ['-c', String(cpu), '/usr/bin/redis-server', ...args], { stdio: 'ignore' });
  child.once('error', () => undefined);
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.pid === undefined) throw new Error('redis-server did not start: apt-get install redis-server');
    const ok = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (ok) return { url: `redis://127.0.0.1:${port}`, pid: child.pid, stop: () => stopChild(child) };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stopChild(child);
  throw new Error('redis-server did not answer within 5 s');
}

