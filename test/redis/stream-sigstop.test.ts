import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { RunningServer } from '../../functions/server.js';
import { compareStreamIds } from '../../lib/sources/redis/entry.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SseReader } from '../support/sse-reader.js';
import { expectExactlyOnceInOrder, positionOf, startPacedPublisher } from './paced-publisher.js';

let redis: TestRedis;
let relay: RunningServer & { url: string };
const readers: SseReader[] = [];

beforeAll(async () => {
  redis = await startRedis();
  relay = await startRelay({
    SOURCE: 'redis', REDIS_URL: redis.url, REDIS_BLOCK_MS: '2000', HEARTBEAT_MS: '500', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0',
  });
});

afterAll(async () => {
  readers.forEach((r) => r.close());
  await relay?.stop();
  redis?.kill('SIGCONT');
  await redis?.stop();
});

test('SIGSTOP for 10 s: heartbeats keep flowing; after SIGCONT the blocking read does not hang and nothing is lost', async () => {
  readers.push(new SseReader(`${relay.url}/events?topic=paused`), new SseReader(`${relay.url}/events?topic=paused`));
  await Promise.all(readers.map((r) => r.until((x) => x.status === 200 && x.retries.length > 0)));
  const publisher = startPacedPublisher(relay.url, 'paused', 100, 32);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  redis.kill('SIGSTOP');
  const heartbeatsBefore = readers.map((r) => r.comments.length);
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const heartbeatsDuring = readers.map((r, i) => r.comments.length - (heartbeatsBefore[i] as number));
  const readyWhilePaused = (await fetch(`${relay.url}/readyz`)).status;
  redis.kill('SIGCONT');
  const resumedAt = Date.now();
  // A message published after SIGCONT must arrive promptly: the reader is not stuck behind a stale blocking read.
  let marker: string | undefined;
  while (marker === undefined && Date.now() - resumedAt < 5_000) {
    const answer = await publish(relay.url, { topic: 'paused', data: 'marker' });
    if (answer.status === 202) marker = String(answer.json.id);
  }
  await Promise.all(readers.map((r) => r.until((x) => x.events.some((e) => positionOf(e.id) === marker), 5_000)));
  const markerLatency = Date.now() - resumedAt;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const attempts = await publisher.stop();
  const acked = attempts.filter((a) => a.status === 202).sort((a, b) => compareStreamIds(a.id as string, b.id as string));
  const last = acked.at(-1)?.id as string;
  await Promise.all(readers.map((r) => r.until((x) => x.events.some((e) => positionOf(e.id) === last), 5_000)));
  console.log(`SIGSTOP: ${attempts.length} published, ${acked.length} acknowledged, ${attempts.length - acked.length} refused; ` +
    `received ${readers.map((r) => r.events.length).join(', ')}; heartbeats while paused ${heartbeatsDuring.join(', ')}; ` +
    `marker after SIGCONT in ${markerLatency} ms; /readyz while paused ${readyWhilePaused}`);
  for (const count of heartbeatsDuring) expect(count).toBeGreaterThanOrEqual(12);
  expect(readyWhilePaused).toBe(503);
  expect(markerLatency).toBeLessThan(5_000);
  expectExactlyOnceInOrder(readers, acked);
}, 40_000);
