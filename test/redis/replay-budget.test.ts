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

/** The text of one response, read until it ends or holds `until` (an id-only frame is not an event to a parser). */
async function responseText(cursor: string, until: string): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  const response = await fetch(`${relay.url}/events?topic=skips`, { headers: { 'last-event-id': cursor }, signal: controller.signal });
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes(until)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return text;
}

test('entries skipped as invalid still move the stream on: a replay cut at its budget stands past them, never before them again', async () => {
  // Data over MAX_MESSAGE_BYTES is skipped; the budget is reached on such entries alone, so a response may carry no
  // message: it must still say where it stopped, or every reconnect would read the same entries again.
  const start = await raw.xadd('sse:skips', '*', 'data', 'before');
  for (let i = 0; i < 12; i++) await raw.xadd('sse:skips', '*', 'data', 'y'.repeat(70_000));
  await raw.xadd('sse:skips', '*', 'data', 'after the skipped ones');
  let cursor = `skips=${start}`;
  let responses = 0;
  let text = '';
  for (; responses < 30 && !text.includes('data: after the skipped ones'); responses++) {
    text = await responseText(cursor, 'data: after the skipped ones');
    const next = [...text.matchAll(/^id: (.*)$/gm)].at(-1)?.[1];
    expect(next).toBeDefined();
    expect(next).not.toBe(cursor);
    cursor = next as string;
  }
  expect(text).toContain('data: after the skipped ones');
  expect(responses).toBeGreaterThan(1);
}, 60_000);
