import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { RunningServer } from '../../functions/server.js';
import { compareStreamIds } from '../../lib/sources/redis/entry.js';
import { startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SseReader } from '../support/sse-reader.js';
import { expectExactlyOnceInOrder, positionOf, startPacedPublisher } from './paced-publisher.js';
import { waitFor } from '../support/wait-for.js';

let redis: TestRedis;
let relay: RunningServer & { url: string };
const readers: SseReader[] = [];

beforeAll(async () => {
  redis = await startRedis();
  relay = await startRelay({ SOURCE: 'redis', REDIS_URL: redis.url, REDIS_BLOCK_MS: '1000', HEARTBEAT_MS: '500', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0' });
});

afterAll(async () => {
  readers.forEach((r) => r.close());
  await relay?.stop();
  await redis?.stop();
});

test('SIGKILL mid-stream at 500 msg/s, restart after 150 refused publishes: every acknowledged message arrives exactly once, in order, at each of 3 subscribers', async () => {
  readers.push(...[1, 2, 3].map(() => new SseReader(`${relay.url}/events?topic=load`)));
  await Promise.all(readers.map((r) => r.until((x) => x.retries.length > 0 && x.status === 200)));
  const publisher = startPacedPublisher(relay.url, 'load', 500);
  const answered = (status: (s: number) => boolean, after = 0): number => publisher.attempts.filter((a) => a.at > after && status(a.status)).length;
  const wait = { timeoutMs: 15_000, everyMs: 50 };
  await waitFor(() => answered((s) => s === 202) >= 300, '300 publishes acknowledged before the kill', wait);
  redis.kill('SIGKILL');
  await waitFor(() => answered((s) => s !== 202) >= 150, '150 publishes refused during the outage', wait);
  await redis.restart();
  const restartedAt = Date.now();
  await waitFor(() => answered((s) => s === 202, restartedAt) >= 300, '300 publishes acknowledged after the restart', wait);
  const attempts = await publisher.stop();

  const acked = attempts.filter((a) => a.status === 202).sort((a, b) => compareStreamIds(a.id as string, b.id as string));
  const failed = attempts.filter((a) => a.status !== 202);
  const last = acked.at(-1)?.id as string;
  await Promise.all(readers.map((r) => r.until((x) => x.events.some((e) => positionOf(e.id) === last), 10_000)));
  console.log(`SIGKILL: ${attempts.length} published, ${acked.length} acknowledged, ${failed.length} refused (503); ` +
    `received per subscriber: ${readers.map((r) => r.events.length).join(', ')}; mean ack ms ${acked.reduce((t, a) => t + a.ms, 0) / acked.length}`);
  expectExactlyOnceInOrder(readers, acked);
  // Acknowledged before and after the outage, refused (503) during it.
  expect(acked.length).toBeGreaterThan(500);
  expect(failed.length).toBeGreaterThan(100);
  expect(failed.every((a) => a.status === 503)).toBe(true);
}, 40_000);
