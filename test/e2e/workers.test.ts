import { afterAll, expect, test } from '@jest/globals';
import { EventSource } from 'eventsource';
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { readdir, readlink } from 'node:fs/promises';
import { startNginxSite } from '../support/nginx-site.js';
import { startRedis } from '../support/redis-server.js';
import { SERVER_JS, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { startStreamPublisher } from '../support/stream-publisher.js';
import { waitFor } from '../support/wait-for.js';

// WORKERS=2 (issue #17, point 5): one primary, two worker processes on one port, Redis streams as the shared source.
// Streams spread over both workers; the primary's METRICS_PORT sums them; SIGTERM to the primary drains both workers
// (each closes its streams with a final `retry:`) and the primary exits 0; the clients come back through nginx to a
// second relay with Last-Event-ID and, as records kept being appended throughout, hold every id exactly once.

const DRAIN_MS = 1_500;
const CLIENTS = 8;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

/** Sockets a process holds open (its listening, Redis, IPC and client connections). */
async function sockets(pid: number): Promise<number> {
  const fds = await readdir(`/proc/${pid}/fd`);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target.startsWith('socket:')).length;
}

/** The pids of the workers the primary logged as listening, and its metrics port. */
function workersOf(primary: ServerProcess): { pids: number[]; metricsPort: number } {
  const pids = [...primary.log().matchAll(/"pid":(\d+),"port":\d+,"msg":"worker listening"/g)].map((m) => Number(m[1]));
  return { pids, metricsPort: Number(/"metricsPort":(\d+)/.exec(primary.log())?.[1] ?? NaN) };
}

function client(url: string): { ids: string[]; opens: number } {
  const es = new EventSource(url);
  const record = { ids: [] as string[], opens: 0 };
  es.addEventListener('record', (event) => record.ids.push(event.lastEventId));
  es.onopen = () => (record.opens += 1);
  cleanups.push(async () => es.close());
  return record;
}

test('memory source with WORKERS=2 stops at start with a ConfigError naming WORKERS', async () => {
  const child = spawn(process.execPath, [SERVER_JS], { env: { ...process.env, SOURCE: 'memory', WORKERS: '2', METRICS_PORT: '0', AUTH_MODE: 'none' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code).toBe(1);
  expect(output).toMatch(/configuration error: WORKERS must be 1 \(or unset\) with SOURCE=memory: each process would keep its own topics/);
  expect(output).not.toMatch(/worker listening/);
});

test('WORKERS=2 with Redis: streams spread over both workers, metrics summed, SIGTERM drains both, clients resume exactly', async () => {
  const redisServer = await startRedis();
  cleanups.push(() => redisServer.stop());
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => redis.disconnect());
  const env = { SOURCE: 'redis', REDIS_URL: redisServer.url, SHUTDOWN_DRAIN_MS: String(DRAIN_MS), RETRY_MS: '1000', HEARTBEAT_MS: '1000' };
  const primary = await startServerProcess({ ...env, WORKERS: '2', METRICS_PORT: '0' }, 30_000);
  cleanups.push(() => primary.kill('SIGKILL'));
  await waitFor(() => workersOf(primary).pids.length === 2, 'both workers listening', 30_000);
  const { pids, metricsPort } = workersOf(primary);
  cleanups.push(async () => pids.forEach((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }));
  const replica = await startServerProcess(env);
  cleanups.push(() => replica.kill('SIGKILL'));
  const nginx = await startNginxSite(primary.port);
  cleanups.push(() => nginx.stop());
  const base = `http://127.0.0.1:${nginx.port}`;

  const before = await Promise.all(pids.map(sockets));
  const clients = Array.from({ length: CLIENTS }, () => client(`${base}/events?topic=workers`));
  await waitFor(() => clients.every((c) => c.opens === 1), 'every stream open', 10_000);
  const added = (await Promise.all(pids.map(sockets))).map((n, i) => n - (before[i] ?? 0));
  // The primary hands its accepted connections to the workers in turn (to the next one free, so not always 4 + 4 on a
  // loaded machine): both carry streams.
  for (const n of added) expect(n).toBeGreaterThanOrEqual(1);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`^sse_connections_open ${CLIENTS}$`, 'm'));
  expect(metrics).toMatch(/^sse_workers 2$/m);
  expect(metrics).toMatch(/^sse_source_up 1$/m);
  expect((await fetch(`${primary.url}/metrics`)).status).toBe(404); // only the primary's METRICS_PORT serves them

  const publisher = startStreamPublisher(redis, 'sse:workers', ['Ada', 'Grace']);
  cleanups.push(() => publisher.stop());
  await waitFor(() => clients.every((c) => c.ids.length >= 10), 'ten records on every client', 10_000);
  const signalledAt = Date.now();
  await primary.kill('SIGTERM', false);
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 503, 'readiness failing on the draining workers', 2_000);
  await nginx.repoint(replica.port);
  expect(await primary.exited).toBe(0);
  const drainedMs = Date.now() - signalledAt;
  expect(primary.log()).toMatch(/"failed":false,"msg":"every worker has exited"/);
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(); // both workers are gone

  await waitFor(() => clients.every((c) => c.opens === 2), 'every EventSource reopening through nginx on the replica', 10_000);
  await publisher.stop();
  const published = publisher.published.map((r) => `workers=${r.id}`);
  await waitFor(() => clients.every((c) => c.ids.length >= published.length), 'every published record on every client', 10_000);
  for (const c of clients) expect(c.ids).toEqual(published);
  console.log(`workers: streams per worker ${added.join(' + ')} (sockets added), primary exited 0 ${drainedMs} ms after SIGTERM ` +
    `(SHUTDOWN_DRAIN_MS ${DRAIN_MS}); ${published.length} ids checked on each of ${CLIENTS} clients, no gap, no duplicate`);
}, 90_000);

test('a worker that dies is replaced; the primary counts it', async () => {
  const redisServer = await startRedis();
  cleanups.push(() => redisServer.stop());
  const primary = await startServerProcess({ SOURCE: 'redis', REDIS_URL: redisServer.url, WORKERS: '2', METRICS_PORT: '0', SHUTDOWN_DRAIN_MS: '0' }, 30_000);
  cleanups.push(() => primary.kill('SIGKILL'));
  await waitFor(() => workersOf(primary).pids.length === 2, 'both workers listening', 30_000);
  const { pids, metricsPort } = workersOf(primary);
  cleanups.push(async () => workersOf(primary).pids.forEach((pid) => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }));
  process.kill(pids[0]!, 'SIGKILL');
  await waitFor(() => workersOf(primary).pids.length === 3, 'a third worker listening in place of the killed one', 30_000);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(metrics).toMatch(/^sse_worker_restarts_total 1$/m);
  expect(metrics).toMatch(/^sse_workers 2$/m);
  expect(primary.log()).toMatch(/"signal":"SIGKILL","livedMs":\d+,"restartInMs":500,"msg":"worker died; replacing it"/);
  expect((await fetch(`${primary.url}/readyz`)).status).toBe(200);
  await primary.kill('SIGTERM');
  expect(await primary.exited).toBe(0);
}, 60_000);
