import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import type { Delivery } from '../../lib/source.js';
import type { InvalidEntry } from '../../lib/sources/redis/entry.js';
import { RedisListSource } from '../../lib/sources/redis/list.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

const TTL_MS = 1_000;
let redis: TestRedis;
let raw: Redis;
const invalid: InvalidEntry[] = [];
const sources: RedisListSource[] = [];

function makeSource(): RedisListSource {
  const source = new RedisListSource({
    url: redis.url, keyPrefix: 'sse:', blockMs: 1_000, maxMessageBytes: 1_000, consumerTtlMs: TTL_MS, onInvalidEntry: (e) => invalid.push(e),
  });
  sources.push(source);
  return source;
}

/** Consumes until `signal` aborts, acking each delivery (or only recording it when `ack` is false). */
async function drain(source: RedisListSource, topics: string[], signal: AbortSignal, got: Delivery[], ack = true): Promise<void> {
  for await (const delivery of source.consume(topics, signal)) {
    got.push(delivery);
    if (ack) await delivery.ack();
  }
}

const blockedClients = async (): Promise<number> => Number(/^blocked_clients:(\d+)/m.exec(await raw.info('clients'))?.[1]);

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  raw?.disconnect();
  await redis?.stop();
});

test('publish LPUSHes the documented JSON envelope; an idempotency key pushes once', async () => {
  const source = makeSource();
  const { id } = await source.publish('jobs', { data: '{"n":1}', event: 'job' });
  expect(JSON.parse((await raw.lindex('sse:q:jobs', 0)) as string)).toEqual({ event: 'job', data: '{"n":1}', id });
  const again = await source.publish('jobs', { data: 'x', key: 'k' });
  expect((await source.publish('jobs', { data: 'x', key: 'k' })).id).toBe(again.id);
  expect(await raw.llen('sse:q:jobs')).toBe(2);
  await raw.del('sse:q:jobs');
});

test('each item goes to exactly one of three consumers, in FIFO order per consumer, and acked items leave Redis', async () => {
  const source = makeSource();
  const stop = new AbortController();
  const got: Delivery[][] = [[], [], []];
  const blockedBefore = await blockedClients();
  const running = got.map((list) => drain(source, ['work'], stop.signal, list));
  await waitFor(async () => (await blockedClients()) >= blockedBefore + 3, 'three consumers blocked in BLMOVE');
  for (let i = 0; i < 300; i++) await source.publish('work', { data: String(i) });
  await waitFor(() => got.flat().length === 300, '300 items delivered', 5_000);
  stop.abort();
  await Promise.all(running);
  const all = got.flat().map((d) => Number(d.data));
  expect(new Set(all).size).toBe(300);
  for (const list of got) {
    const numbers = list.map((d) => Number(d.data));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
  }
  expect(await raw.llen('sse:q:work')).toBe(0);
  expect(await raw.keys('sse:q:work#processing:*')).toEqual([]);
  console.log(`list: 300 published, split ${got.map((l) => l.length).join('/')} between 3 consumers`);
});

test('a consumer on several topics gets them all; abort stops it promptly and what it held goes back', async () => {
  const source = makeSource();
  const stop = new AbortController();
  const got: Delivery[] = [];
  const running = drain(source, ['t1', 't2'], stop.signal, got, false);
  await source.publish('t1', { data: 'one' });
  await source.publish('t2', { data: 'two' });
  await waitFor(() => got.length === 2, 'one item of each topic', 5_000);
  const started = Date.now();
  stop.abort();
  await running;
  expect(Date.now() - started).toBeLessThan(1_000);
  expect((await raw.lrange('sse:q:t1', 0, -1)).map((item) => JSON.parse(item).data)).toEqual(['one']);
  expect((await raw.lrange('sse:q:t2', 0, -1)).map((item) => JSON.parse(item).data)).toEqual(['two']);
});

test('release puts an item back for the next consumer; invalid items are set aside and reported', async () => {
  const source = makeSource();
  await raw.lpush('sse:q:mixed', 'not json', JSON.stringify({ event: 'a\nb', data: 'x' }), JSON.stringify({ data: 'good' }));
  const stop = new AbortController();
  const got: Delivery[] = [];
  const running = (async () => {
    for await (const delivery of source.consume(['mixed'], stop.signal)) {
      got.push(delivery);
      if (got.length === 1) await delivery.release();
      else await delivery.ack();
    }
  })();
  await waitFor(() => got.length === 2 && invalid.length === 2, 'the good item twice and two invalid ones reported', 5_000);
  expect(got.map((d) => d.data)).toEqual(['good', 'good']);
  expect(invalid.map((e) => e.reason)).toEqual(['the item is not JSON', 'event must not contain CR, LF or NUL']);
  expect(await raw.llen('sse:q:mixed#invalid')).toBe(2);
  stop.abort();
  await running;
});

test('a consumer killed mid-processing: its items are recovered and delivered to another consumer', async () => {
  const source = makeSource();
  for (let i = 0; i < 3; i++) await source.publish('crash', { data: `item${i}` });
  const fixture = fileURLToPath(new URL('./fixtures/list-consumer.mjs', import.meta.url));
  const child = spawn(process.execPath, [fixture, redis.url, 'crash', String(TTL_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let taken = '';
  child.stdout.on('data', (chunk: Buffer) => (taken += chunk.toString()));
  await waitFor(() => taken.split('\n').length > 3, 'the child to take three items');
  if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  expect(await raw.llen('sse:q:crash')).toBe(0);
  const held = await raw.keys('sse:q:crash#processing:*');
  expect(held).toHaveLength(1);

  const stop = new AbortController();
  const got: Delivery[] = [];
  const running = drain(source, ['crash'], stop.signal, got);
  await waitFor(() => got.length === 3, 'the three recovered items delivered', TTL_MS * 5);
  stop.abort();
  await running;
  expect(got.map((d) => d.data)).toEqual(['item0', 'item1', 'item2']);
  expect(await raw.exists(held[0] as string)).toBe(0);
  console.log(`list crash: killed consumer held 3 items; recovered and delivered ${got.length}`);
});
