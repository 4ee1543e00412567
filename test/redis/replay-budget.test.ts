import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import type { RunningServer } from '../../functions/server.js';
import { startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SseReader } from '../support/sse-reader.js';

// A replay reads from Redis page by page and no more than the stream can queue (CONNECTION_BUFFER_BYTES): before, it
// read up to REPLAY_MAX entries in one XRANGE, so twenty streams resuming over 1,000 entries of 60 KB took 700 MB.
const BUFFER_BYTES = 65_536;
const ENTRY_BYTES = 8_000;
const ENTRIES = 300;

let redis: TestRedis;
let relay: RunningServer & { url: string };
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  relay = await startRelay({
    SOURCE: 'redis', REDIS_URL: redis.url, REDIS_MAXLEN: '10000', REPLAY_MAX: '1000', CONNECTION_BUFFER_BYTES: String(BUFFER_BYTES), SHUTDOWN_DRAIN_MS: '0',
  });
});

afterAll(async () => {
  await relay?.stop();
  raw?.disconnect();
  await redis?.stop();
});

test('a long replay goes out a stream buffer at a time: each response ends with retry: 0, and the client gets every entry once, in order', async () => {
  const pipeline = raw.pipeline();
  for (let i = 0; i < ENTRIES; i++) pipeline.xadd('sse:backlog', '*', 'data', `${i}:`.padEnd(ENTRY_BYTES, 'x'));
  await pipeline.exec();
  const first = (await raw.xrange('sse:backlog', '-', '+', 'COUNT', 1))[0]?.[0] as string;
  let cursor = `backlog=${first}`;
  const received: number[] = [0];
  const perResponse: number[] = [];
  const messages = (reader: SseReader) => reader.events.filter((e) => e.data !== '');
  for (let round = 0; round < 100 && received.length < ENTRIES; round++) {
    const reader = new SseReader(`${relay.url}/events?topic=backlog`, { 'last-event-id': cursor });
    const missing = ENTRIES - received.length;
    // A response cut at its budget ends by itself; the last one goes live once it has sent the rest.
    await Promise.race([reader.ended, reader.until((r) => messages(r).length >= missing, 10_000)]);
    reader.close();
    await reader.ended;
    perResponse.push(messages(reader).length);
    for (const event of messages(reader)) received.push(Number(event.data.slice(0, event.data.indexOf(':'))));
    cursor = reader.ids.filter(Boolean).at(-1) ?? cursor;
    if (received.length < ENTRIES) expect(reader.retries.at(-1)).toBe(0);
  }
  expect(received).toEqual(Array.from({ length: ENTRIES }, (_, i) => i));
  // Each response carried what one stream buffer holds (plus the entry that crossed it), not the whole backlog.
  expect(Math.max(...perResponse)).toBeLessThanOrEqual(Math.ceil(BUFFER_BYTES / ENTRY_BYTES) + 1);
}, 60_000);
