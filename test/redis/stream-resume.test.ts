import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import type { RunningServer } from '../../functions/server.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

let redis: TestRedis;
let relay: RunningServer & { url: string };
let raw: Redis;
const readers: SseReader[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  relay = await startRelay({ SOURCE: 'redis', REDIS_URL: redis.url, REDIS_MAXLEN: '10', REPLAY_MAX: '50', SHUTDOWN_DRAIN_MS: '0', PUBLISH_RATE_PER_MINUTE: '0' });
});

afterAll(async () => {
  readers.forEach((r) => r.close());
  await relay?.stop();
  raw?.disconnect();
  await redis?.stop();
});

function read(query: string, lastEventId?: string): SseReader {
  const reader = new SseReader(`${relay.url}/events?${query}`, lastEventId === undefined ? {} : { 'last-event-id': lastEventId });
  readers.push(reader);
  return reader;
}

test('a multi-topic subscription resumes exactly from its cursor, including entries other producers XADDed', async () => {
  const first = read('topic=orders&topic=alerts');
  await first.until((r) => r.retries.length > 0);
  await publish(relay.url, { topic: 'orders', data: 'o1' });
  await publish(relay.url, { topic: 'alerts', data: 'a1', event: 'alert' });
  await first.until((r) => r.events.length === 2);
  const cursor = first.events[1]?.id as string;
  expect(cursor).toMatch(/^alerts=\d+-\d+,orders=\d+-\d+$/);
  first.close();
  await publish(relay.url, { topic: 'orders', data: 'o2' });
  await raw.xadd('sse:alerts', '*', 'event', 'alert', 'data', 'from another producer');
  await publish(relay.url, { topic: 'orders', data: 'o3' });

  const resumed = read('topic=orders&topic=alerts', cursor);
  await resumed.until((r) => r.events.length === 3);
  expect(resumed.events.map((e) => e.data).sort()).toEqual(['from another producer', 'o2', 'o3']);
  expect(resumed.events.find((e) => e.data === 'from another producer')?.event).toBe('alert');
  await publish(relay.url, { topic: 'alerts', data: 'live' });
  await resumed.until((r) => r.events.length === 4);
  expect(resumed.events.filter((e) => e.data === 'live')).toHaveLength(1);
});

test('a cursor older than the retained stream (REDIS_MAXLEN) gets the relay.reset event, then the retained entries', async () => {
  const first = read('topic=busy');
  await first.until((r) => r.retries.length > 0);
  await publish(relay.url, { topic: 'busy', data: 'seen' });
  await first.until((r) => r.events.length === 1);
  const cursor = first.events[0]?.id as string;
  first.close();
  for (let i = 0; i < 250; i++) await publish(relay.url, { topic: 'busy', data: `m${i}` });
  const resumed = read('topic=busy', cursor);
  await resumed.until((r) => r.events.length > 1);
  expect(resumed.events[0]?.event).toBe('relay.reset');
  expect(resumed.events.at(-1)?.data).toBe('m249');
  expect(resumed.events.length - 1).toBeLessThanOrEqual(50);
});

// Nothing is trimmed from the stream written after the expiry, so only the cursor's age tells that entries are gone.
test('a cursor into a stream that expired and was written again gets relay.reset, not a silent gap', async () => {
  const first = read('topic=lapsed');
  await first.until((r) => r.retries.length > 0);
  await publish(relay.url, { topic: 'lapsed', data: 'seen' });
  await first.until((r) => r.events.length === 1);
  const cursor = first.events[0]?.id as string;
  first.close();
  await publish(relay.url, { topic: 'lapsed', data: 'missed' });
  // REDIS_STREAM_TTL_S running out, without waiting a day for it.
  await raw.pexpire('sse:lapsed', 1);
  await waitFor(async () => (await raw.exists('sse:lapsed')) === 0, 'the stream expired');
  await publish(relay.url, { topic: 'lapsed', data: 'after' });
  const resumed = read('topic=lapsed', cursor);
  await resumed.until((r) => r.events.length === 2);
  expect(resumed.events.map((e) => e.event ?? 'message')).toEqual(['relay.reset', 'message']);
  expect(resumed.events[1]?.data).toBe('after');
  // A cursor from before the topic had any message (`0-0`) resumes the new stream from its start, with no reset.
  const fresh = read('topic=lapsed', 'lapsed=0-0');
  await fresh.until((r) => r.events.length === 1);
  expect(fresh.events[0]?.data).toBe('after');
});

// Nothing after the expiry recreated the key: the cursor is newer than anything the source holds, and its followers
// are gone with the stream.
test('a cursor into a stream that expired and was not written again gets relay.reset, then live entries', async () => {
  const first = read('topic=faded');
  await first.until((r) => r.retries.length > 0);
  await publish(relay.url, { topic: 'faded', data: 'seen' });
  await first.until((r) => r.events.length === 1);
  const cursor = first.events[0]?.id as string;
  first.close();
  await publish(relay.url, { topic: 'faded', data: 'missed' });
  await raw.pexpire('sse:faded', 1);
  await waitFor(async () => (await raw.exists('sse:faded')) === 0, 'the stream expired');
  const resumed = read('topic=faded', cursor);
  await resumed.until((r) => r.events.length === 1);
  expect(resumed.events[0]?.event).toBe('relay.reset');
  await publish(relay.url, { topic: 'faded', data: 'after' });
  await resumed.until((r) => r.events.length === 2);
  expect(resumed.events[1]?.data).toBe('after');
});
