import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { FIXED_SETTINGS } from '../../lib/config/index.js';
import { Redis } from 'ioredis';
import type { StoredMessage } from '../../lib/source.js';
import type { InvalidEntry } from '../../lib/sources/redis/entry.js';
import { RedisStreamSource } from '../../lib/sources/redis/stream.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

let redis: TestRedis;
let raw: Redis;
const invalid: InvalidEntry[] = [];
let source: RedisStreamSource;

function makeSource(overrides: { maxLen?: number; blockMs?: number } = {}): RedisStreamSource {
  return new RedisStreamSource({
    url: redis.url, keyPrefix: 'sse:', maxLen: overrides.maxLen ?? 10_000, blockMs: overrides.blockMs ?? 2_000,
    maxMessageBytes: 1_000, onInvalidEntry: (entry) => invalid.push(entry),
    idempotencyTtlSeconds: FIXED_SETTINGS.redisIdempotencyTtlSeconds, streamTtlSeconds: 0,
  });
}

const until = (predicate: () => boolean, timeoutMs = 5_000): Promise<true> => waitFor(predicate, 'the feed to deliver', { timeoutMs, everyMs: 10 });
const blockedClients = async (): Promise<number> => Number(/^blocked_clients:(\d+)/m.exec(await raw.info('clients'))?.[1]);

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  source = makeSource();
});

afterAll(async () => {
  await source.close();
  raw.disconnect();
  await redis.stop();
});

describe('RedisStreamSource against a real redis-server', () => {
  test('publish appends event and data to <prefix><topic>; head is the newest id, 0-0 when missing', async () => {
    expect(await source.head('fresh')).toBe('0-0');
    const first = await source.publish('fresh', { data: 'one' });
    const second = await source.publish('fresh', { data: 'two', event: 'note' });
    expect(await source.head('fresh')).toBe(second.position);
    const entries = await raw.xrange('sse:fresh', '-', '+');
    expect(entries).toEqual([[first.position, ['event', 'message', 'data', 'one']], [second.position, ['event', 'note', 'data', 'two']]]);
  });

  test('data and an event that start with U+FEFF arrive as published, in replay and live (a byte order mark is text here)', async () => {
    const before = await source.head('bom');
    const live: StoredMessage[] = [];
    const feed = source.openFeed((m) => live.push(m), () => undefined);
    feed.add('bom', before);
    const published = await source.publish('bom', { data: '\uFEFF{"a":1}', event: '\uFEFFnote' });
    await until(() => live.length === 1);
    await feed.close();
    const replay = await source.replay('bom', before, published.position, 10);
    for (const message of [live[0], replay.messages[0]]) expect(message).toMatchObject({ data: '\uFEFF{"a":1}', event: '\uFEFFnote' });
  });

  test('the same idempotency key appends once and returns the first id', async () => {
    const a = await source.publish('keyed', { data: 'x', key: 'k-1' });
    const b = await source.publish('keyed', { data: 'x', key: 'k-1' });
    const c = await source.publish('keyed', { data: 'y', key: 'k-2' });
    expect(b.position).toBe(a.position);
    expect(c.position).not.toBe(a.position);
    expect(await raw.xlen('sse:keyed')).toBe(2);
    expect(await raw.ttl('sse:key#keyed#k-1')).toBeGreaterThan(0);
  });

  test('replay is exclusive of the cursor, stops at until, and reports no gap within retention', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await source.publish('replay', { data: `m${i}` })).position);
    const result = await source.replay('replay', ids[0] as string, ids[3] as string, 100);
    expect(result.gap).toBe(false);
    expect(result.messages.map((m) => m.data)).toEqual(['m1', 'm2', 'm3']);
    expect(await source.replay('replay', ids[4] as string, ids[4] as string, 100)).toEqual({ messages: [], gap: false });
    expect(await source.replay('missing', '0-0', '5-0', 100)).toEqual({ messages: [], gap: false });
  });

  test('more than limit entries after the cursor → gap and the newest limit up to until', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await source.publish('over', { data: `m${i}` })).position);
    const result = await source.replay('over', ids[0] as string, ids[4] as string, 2);
    expect(result.gap).toBe(true);
    expect(result.messages.map((m) => m.data)).toEqual(['m3', 'm4']);
  });

  test('a cursor older than what MAXLEN kept → gap; a cursor inside retention → no gap', async () => {
    const trimmed = makeSource({ maxLen: 10 });
    const ids: string[] = [];
    // MAXLEN ~ trims whole radix-tree nodes (100 entries by default), so write well past one node.
    for (let i = 0; i < 300; i++) ids.push((await trimmed.publish('trim', { data: `m${i}` })).position);
    const head = ids[299] as string;
    const old = await trimmed.replay('trim', ids[0] as string, head, 1_000);
    expect(old.gap).toBe(true);
    expect(old.messages.at(-1)?.data).toBe('m299');
    const recent = await trimmed.replay('trim', ids[297] as string, head, 1_000);
    expect(recent).toEqual({ gap: false, messages: [expect.objectContaining({ data: 'm298' }), expect.objectContaining({ data: 'm299' })] });
    await trimmed.close();
  });

  test('entries not in the documented format are skipped and reported, in replay and live, and advance the position', async () => {
    invalid.length = 0;
    const before = await source.head('bad');
    await raw.xadd('sse:bad', '*', 'event', 'message', 'nodata', 'x');
    await raw.xadd(Buffer.from('sse:bad'), '*', 'data', Buffer.from([0xff, 0xfe, 0x00]));
    await raw.xadd('sse:bad', '*', 'data', 'x'.repeat(1_001));
    await raw.xadd('sse:bad', '*', 'event', 'two\nlines', 'data', 'x');
    const good = await raw.xadd('sse:bad', '*', 'data', 'fine');
    const replay = await source.replay('bad', before, good as string, 100);
    expect(replay.messages.map((m) => m.data)).toEqual(['fine']);
    expect(invalid.map((e) => e.reason)).toEqual([
      'the entry has no "data" field', 'data is not valid UTF-8', 'data is 1001 bytes, over MAX_MESSAGE_BYTES (1000)', 'event must not contain CR, LF or NUL',
    ]);

    invalid.length = 0;
    const live: StoredMessage[] = [];
    const feed = source.openFeed((m) => live.push(m), () => undefined);
    feed.add('bad', before);
    feed.add('bad-neighbour', await source.head('bad-neighbour'));
    await source.publish('bad-neighbour', { data: 'other topic' });
    await until(() => live.length === 2);
    expect(live.map((m) => m.data).sort()).toEqual(['fine', 'other topic']);
    expect(invalid).toHaveLength(4);
    await feed.close();
  });

  test('the feed delivers in order exactly once, across topics, including what was appended between head() and add()', async () => {
    const live: StoredMessage[] = [];
    const feed = source.openFeed((m) => live.push(m), () => undefined);
    const headA = await source.head('a');
    await source.publish('a', { data: 'a0' });
    feed.add('a', headA);
    for (let i = 1; i < 50; i++) await source.publish(i % 2 === 0 ? 'a' : 'b', { data: `${i % 2 === 0 ? 'a' : 'b'}${i}` });
    await until(() => live.filter((m) => m.topic === 'a').length === 25);
    expect(live.filter((m) => m.topic === 'a').map((m) => m.data)).toEqual(['a0', ...Array.from({ length: 24 }, (_, k) => `a${2 * (k + 1)}`)]);
    expect(live.some((m) => m.topic === 'b')).toBe(false);
    await feed.close();
  });

  test('a topic added while the reader blocks joins at once (CLIENT UNBLOCK), not after REDIS_BLOCK_MS', async () => {
    const blockedBefore = await blockedClients();
    const slow = makeSource({ blockMs: 10_000 });
    const live: StoredMessage[] = [];
    const feed = slow.openFeed((m) => live.push(m), () => undefined);
    feed.add('idle', await slow.head('idle'));
    await waitFor(async () => (await blockedClients()) > blockedBefore, 'the new reader blocked in XREAD');
    const started = Date.now();
    feed.add('joined', await slow.head('joined'));
    await slow.publish('joined', { data: 'hello' });
    await until(() => live.length === 1, 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    feed.remove('joined');
    await slow.publish('joined', { data: 'after remove' });
    await slow.publish('idle', { data: 'still read' });
    await until(() => live.length === 2);
    expect(live.map((m) => m.data)).toEqual(['hello', 'still read']);
    await feed.close();
    await slow.close();
  });

  test('a key of the wrong type under the prefix does not stop the reader for other topics', async () => {
    await raw.lpush('sse:not-a-stream', 'x');
    const errors: unknown[] = [];
    const live: StoredMessage[] = [];
    const feed = source.openFeed((m) => live.push(m), (e) => errors.push(e));
    feed.add('not-a-stream', '0-0');
    feed.add('healthy', await source.head('healthy'));
    await source.publish('healthy', { data: 'flows' });
    await until(() => live.length === 1, 8_000);
    expect(live[0]?.data).toBe('flows');
    expect(errors.map(String).join('\n')).toMatch(/sse:not-a-stream is a list, not a stream/);
    await feed.close();
  });

  test('a topic added before the blocking connection is up is read once it is, with no fault (a cold start)', async () => {
    // A Lambda cold start or a container's first request: the feed's first read comes before its connection is ready.
    const fresh = makeSource();
    const errors: unknown[] = [];
    const live: StoredMessage[] = [];
    const feed = fresh.openFeed((m) => live.push(m), (e) => errors.push(e));
    try {
      feed.add('cold', '0-0');
      await source.publish('cold', { data: 'first' });
      await until(() => live.length === 1);
      expect(live[0]?.data).toBe('first');
      expect(errors).toEqual([]);
    } finally {
      await feed.close();
      await fresh.close();
    }
  });

  test('isReady answers PING', async () => {
    expect(await source.isReady()).toBe(true);
  });
});
