import { afterAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import type { RunningServer } from '../../functions/server.js';
import { ERROR_CODES } from '../../lib/errors.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function relayFor(redis: TestRedis): Promise<RunningServer & { url: string }> {
  const relay = await startRelay({ SOURCE: 'redis', REDIS_URL: redis.url, REDIS_BLOCK_MS: '1000', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0' });
  cleanups.push(() => relay.stop());
  return relay;
}

const ready = async (relay: { url: string }): Promise<boolean> => (await fetch(`${relay.url}/readyz`)).status === 200;

test('Redis down at start: /readyz 503, /events 503 with Retry-After, nothing crashes; recovers by itself when Redis comes up', async () => {
  const redis = await startRedis({ started: false });
  cleanups.push(() => redis.stop());
  const relay = await relayFor(redis);
  expect((await fetch(`${relay.url}/readyz`)).status).toBe(503);
  const events = await fetch(`${relay.url}/events?topic=late`);
  expect(events.status).toBe(503);
  expect(events.headers.get('retry-after')).toMatch(/^\d+$/);
  // The code's documented meaning only: never the Redis client's error text.
  expect(await events.json()).toEqual({ error: 'source_unavailable', message: ERROR_CODES.source_unavailable.message });
  expect((await publish(relay.url, { topic: 'late', data: 'x' })).status).toBe(503);

  await redis.restart();
  const restartedAt = Date.now();
  await waitFor(() => ready(relay), '/readyz 200 once redis-server is up', { timeoutMs: 5_000, everyMs: 100 });
  const recoveredMs = Date.now() - restartedAt;
  const reader = new SseReader(`${relay.url}/events?topic=late`);
  cleanups.push(() => reader.close());
  await reader.until((r) => r.status === 200 && r.retries.length > 0);
  const { status } = await publish(relay.url, { topic: 'late', data: 'arrived' });
  expect(status).toBe(202);
  await reader.until((r) => r.events.some((e) => e.data === 'arrived'));
  console.log(`down at start: ready ${recoveredMs} ms after redis-server started`);
});

test('Redis down while publishing: POST /publish answers 503 in under 1 s, and refused messages are not sent later', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const relay = await relayFor(redis);
  expect((await publish(relay.url, { topic: 'outage', data: 'before' })).status).toBe(202);
  redis.kill('SIGKILL');
  await waitFor(async () => !(await ready(relay)), '/readyz 503 once redis-server is killed', { timeoutMs: 5_000, everyMs: 20 });
  const heapBefore = process.memoryUsage().heapUsed;
  const latencies: number[] = [];
  const statuses = new Set<number>();
  for (let round = 0; round < 50; round++) {
    await Promise.all(Array.from({ length: 20 }, async () => {
      const started = Date.now();
      const { status } = await publish(relay.url, { topic: 'outage', data: 'refused' });
      latencies.push(Date.now() - started);
      statuses.add(status);
    }));
  }
  const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1_048_576;
  console.log(`down while publishing: ${latencies.length} refused, slowest ${Math.max(...latencies)} ms, heap growth ${heapGrowthMb.toFixed(1)} MB`);
  expect([...statuses]).toEqual([503]);
  expect(Math.max(...latencies)).toBeLessThan(1_000);
  // An offline queue would have kept the refused XADDs and sent them on reconnect; the stream proves it did not.
  await redis.restart();
  await waitFor(() => ready(relay), '/readyz 200 once redis-server is back', { timeoutMs: 5_000, everyMs: 100 });
  // A marker published after the recovery goes out on the same connection behind anything an offline queue held, so
  // once it is stored, a refused message sent late would be stored before it.
  expect((await publish(relay.url, { topic: 'outage', data: 'marker' })).status).toBe(202);
  const raw = new Redis(redis.url);
  cleanups.push(() => raw.disconnect());
  const stored = await raw.xrange('sse:outage', '-', '+');
  expect(stored.map(([, fields]) => fields[fields.indexOf('data') + 1])).toEqual(['before', 'marker']);
});

test('SOURCE=redis-list with Redis down: /events answers 503 with Retry-After instead of an empty stream', async () => {
  const redis = await startRedis({ started: false });
  cleanups.push(() => redis.stop());
  const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: redis.url, SHUTDOWN_DRAIN_MS: '0' });
  cleanups.push(() => relay.stop());
  const events = await fetch(`${relay.url}/events?topic=jobs`);
  expect(events.status).toBe(503);
  expect(events.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(await events.json()).toEqual({ error: 'source_unavailable', message: ERROR_CODES.source_unavailable.message });
});

test('Redis down: the Redis memory gauges read NaN (unknown), not 0 ("no maxmemory", "0 bytes used"), and come back with Redis', async () => {
  // Seen from outside before: with Redis paused, /metrics said sse_redis_maxmemory_bytes 0 and sse_redis_used_memory_bytes 0.
  const redis = await startRedis({ started: false });
  cleanups.push(() => redis.stop());
  const relay = await relayFor(redis);
  const gauges = async (): Promise<string[]> => {
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    return ['sse_redis_used_memory_bytes', 'sse_redis_maxmemory_bytes', 'sse_redis_may_evict', 'sse_redis_evicted_keys'].map((name) => new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 'absent');
  };
  // prom-client writes NaN as `Nan`; Prometheus parses it (Go's ParseFloat ignores case).
  expect((await gauges()).map((value) => value.toLowerCase())).toEqual(['nan', 'nan', 'nan', 'nan']);
  await redis.restart();
  await waitFor(() => ready(relay), '/readyz 200 once redis-server is up', { timeoutMs: 5_000, everyMs: 100 });
  const [used, max, mayEvict, evicted] = await gauges();
  expect(Number(used)).toBeGreaterThan(0);
  expect([max, mayEvict, evicted]).toEqual(['0', '0', '0']);
});
