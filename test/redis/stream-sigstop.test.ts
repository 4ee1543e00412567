import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { RunningServer } from '../../functions/server.js';
import { compareStreamIds } from '../../lib/sources/redis/entry.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SseReader } from '../support/sse-reader.js';
import { expectExactlyOnceInOrder, positionOf, startPacedPublisher } from './paced-publisher.js';
import { waitFor } from '../support/wait-for.js';

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

test('SIGSTOP past the blocking read\'s deadline (at least 6 s): heartbeats keep flowing; after SIGCONT the blocking read does not hang and nothing is lost', async () => {
  readers.push(new SseReader(`${relay.url}/events?topic=paused`), new SseReader(`${relay.url}/events?topic=paused`));
  await Promise.all(readers.map((r) => r.until((x) => x.status === 200 && x.retries.length > 0)));
  const publisher = startPacedPublisher(relay.url, 'paused', 100, 32);
  const acknowledged = (): number => publisher.attempts.filter((a) => a.status === 202).length;
  await waitFor(() => acknowledged() >= 50 && readers.every((r) => r.events.length >= 50), '50 publishes acknowledged and received before the pause');
  redis.kill('SIGSTOP');
  const heartbeatsBefore = readers.map((r) => r.comments.length);
  const heartbeatsSince = (): number[] => readers.map((r, i) => r.comments.length - (heartbeatsBefore[i] as number));
  const sourceErrorsBefore = relay.app.metrics.get('sse_source_errors_total');
  // Paused until the stale XREAD has run past REDIS_BLOCK_MS + its grace (a source error, then reconnects that get no
  // answer) and every stream has had 12 heartbeats (6 s at HEARTBEAT_MS 500).
  await waitFor(() => relay.app.metrics.get('sse_source_errors_total') > sourceErrorsBefore && heartbeatsSince().every((n) => n >= 12),
    () => `a source error (${relay.app.metrics.get('sse_source_errors_total') - sourceErrorsBefore}) and 12 heartbeats per stream (${heartbeatsSince().join(', ')}) while paused`,
    { timeoutMs: 20_000, everyMs: 50 });
  const heartbeatsDuring = heartbeatsSince();
  const readyWhilePaused = (await fetch(`${relay.url}/readyz`)).status;
  redis.kill('SIGCONT');
  const resumedAt = Date.now();
  // A message published after SIGCONT must arrive promptly: the reader is not stuck behind a stale blocking read.
  const marker = await waitFor(async () => {
    const answer = await publish(relay.url, { topic: 'paused', data: 'marker' });
    return answer.status === 202 ? String(answer.json.id) : undefined;
  }, 'a marker publish acknowledged after SIGCONT', { timeoutMs: 5_000, everyMs: 0 });
  await Promise.all(readers.map((r) => r.until((x) => x.events.some((e) => positionOf(e.id) === marker), 5_000)));
  const markerLatency = Date.now() - resumedAt;
  const afterMarker = Date.now();
  await waitFor(() => publisher.attempts.filter((a) => a.at > afterMarker && a.status === 202).length >= 50, '50 publishes acknowledged after the marker');
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
