import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { FIXED_SETTINGS } from '../../lib/config/index.js';
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
    idempotencyTtlSeconds: FIXED_SETTINGS.redisIdempotencyTtlSeconds,
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

/** Takes one delivery and holds it, without asking for the next, until `signal` aborts. */
async function holdOne(source: RedisListSource, topic: string, signal: AbortSignal, got: Delivery[]): Promise<void> {
  const deliveries = source.consume([topic], signal)[Symbol.asyncIterator]();
  const first = await deliveries.next();
  if (first.done !== true) got.push(first.value);
  await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  await deliveries.return?.(undefined);
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
  // The process's taker of the topic blocks once for all three (one BLMOVE per topic per process, not per subscriber).
  await waitFor(async () => (await blockedClients()) >= blockedBefore + 1, 'the topic\'s taker blocked in BLMOVE');
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
  // The third is valid JSON whose data has a lone surrogate (no UTF-8 form: it would reach the browser as U+FFFD).
  await raw.lpush('sse:q:mixed', 'not json', JSON.stringify({ event: 'a\nb', data: 'x' }), '{"data":"half \\ud800 a pair"}', JSON.stringify({ data: 'good' }));
  const stop = new AbortController();
  const got: Delivery[] = [];
  const running = (async () => {
    for await (const delivery of source.consume(['mixed'], stop.signal)) {
      got.push(delivery);
      if (got.length === 1) await delivery.release();
      else await delivery.ack();
    }
  })();
  await waitFor(() => got.length === 2 && invalid.length === 3, 'the good item twice and three invalid ones reported', 5_000);
  expect(got.map((d) => d.data)).toEqual(['good', 'good']);
  expect(invalid.map((e) => e.reason)).toEqual([
    'the item is not JSON', 'event must not contain CR, LF or NUL', 'data is not valid UTF-8 (it has a lone surrogate)',
  ]);
  expect(await raw.llen('sse:q:mixed#invalid')).toBe(3);
  stop.abort();
  await running;
});

test('an item a producer nested thousands deep, or with a lone surrogate, is set aside; the items behind it still arrive', async () => {
  // Before the fix the deep item threw in JSON.stringify on every take: the topic stalled for ever, with no log line.
  const source = makeSource();
  const deep = `{"data":${'['.repeat(6_000)}${']'.repeat(6_000)}}`;
  await raw.lpush('sse:q:poison', deep, '{"data":"a\\ud800b"}', JSON.stringify({ data: 'behind' }));
  const stop = new AbortController();
  const got: Delivery[] = [];
  const running = drain(source, ['poison'], stop.signal, got);
  const before = invalid.length;
  await waitFor(() => got.length === 1 && invalid.length === before + 2, 'the item behind and two invalid ones reported', 5_000);
  expect(got.map((d) => d.data)).toEqual(['behind']);
  expect(invalid.slice(before).map((e) => e.reason)).toEqual(['the item nests deeper than 64 levels', 'data is not valid UTF-8 (it has a lone surrogate)']);
  expect(await raw.llen('sse:q:poison#invalid')).toBe(2);
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

test('subscribers of one process share its processing list: one that leaves gives back only what it held', async () => {
  const source = makeSource();
  for (let i = 0; i < 2; i++) await source.publish('shared', { data: `s${i}` });
  const [stopA, stopB] = [new AbortController(), new AbortController()];
  const gotA: Delivery[] = [];
  const gotB: Delivery[] = [];
  const runningA = holdOne(source, 'shared', stopA.signal, gotA);
  await waitFor(() => gotA.length === 1, 'the first subscriber\'s item');
  const runningB = holdOne(source, 'shared', stopB.signal, gotB);
  await waitFor(() => gotB.length === 1, 'the second subscriber\'s item');
  const lists = await raw.keys('sse:q:shared#processing:*');
  expect(lists).toHaveLength(1);
  expect(await raw.llen(lists[0] as string)).toBe(2);

  stopA.abort();
  await runningA;
  expect((await raw.lrange('sse:q:shared', 0, -1)).map((i) => JSON.parse(i).data)).toEqual([gotA[0]?.data]);
  expect(await raw.llen(lists[0] as string)).toBe(1);
  expect(await gotB[0]?.isHeld()).toBe(true);
  // POST /ack answered by another process: it removes the item by its handle from this process's list.
  await makeSource().acknowledge('shared', [gotB[0]?.handle as string]);
  expect(await gotB[0]?.isHeld()).toBe(false);
  stopB.abort();
  await runningB;
  expect(await raw.llen('sse:q:shared')).toBe(1);
  // The last subscriber gone, the topic's taker retires: nothing held, its list unregistered.
  await waitFor(async () => (await raw.sismember('sse:q#processing', lists[0] as string)) === 0, 'the processing list unregistered');
  await raw.del('sse:q:shared');
});

test('an acknowledgement through another process scans the holding list once for all its ids, made-up ones included', async () => {
  const source = makeSource();
  const held = 30;
  for (let i = 0; i < held; i++) await source.publish('acks', { data: `a${i}` });
  const stops = Array.from({ length: held }, () => new AbortController());
  const got: Delivery[] = [];
  const running = stops.map((stop) => holdOne(source, 'acks', stop.signal, got));
  await waitFor(() => got.length === held, `${held} subscribers to hold one item each`);
  const real = got.slice(0, 10).map((d) => d.handle);
  // Handles a subscriber made up: a real one's topic and process, any SHA-1.
  const madeUp = Array.from({ length: 90 }, (_, i) => (real[0] as string).replace(/~[0-9a-f]{40}(~|$)/, `~${i.toString(16).padStart(40, '0')}$1`));
  expect(madeUp.every((h) => h !== real[0] && h.startsWith('acks~'))).toBe(true);
  const evals = async (): Promise<number> => Number(/^cmdstat_eval:calls=(\d+)/m.exec(await raw.info('commandstats'))?.[1] ?? 0);
  const other = makeSource();
  const before = await evals();
  await other.acknowledge('acks', [...madeUp, ...real]);
  // One script, one pass over the 30 held items: before, one script (one full pass) per id, 100 in all.
  expect(await evals()).toBe(before + 1);
  const stillHeld = await Promise.all(got.map((d) => d.isHeld()));
  expect(stillHeld.slice(0, 10)).toEqual(Array(10).fill(false));
  expect(stillHeld.slice(10)).toEqual(Array(held - 10).fill(true));
  // A repeat finds every marker and removes nothing, however many identical items are still held.
  await other.acknowledge('acks', real);
  expect((await Promise.all(got.map((d) => d.isHeld()))).filter(Boolean)).toHaveLength(held - 10);
  stops.forEach((stop) => stop.abort());
  await Promise.all(running);
  expect(await raw.llen('sse:q:acks')).toBe(held - 10);
  await raw.del('sse:q:acks');
});

test('more topics in use than blocking connections: topics take turns on a bounded pool and every item arrives', async () => {
  const source = new RedisListSource({
    url: redis.url, keyPrefix: 'sse:', blockMs: 1_000, maxMessageBytes: 1_000, consumerTtlMs: TTL_MS, maxBlockingConnections: 2,
    idempotencyTtlSeconds: FIXED_SETTINGS.redisIdempotencyTtlSeconds,
  });
  sources.push(source);
  const topics = Array.from({ length: 6 }, (_, i) => `turn${i}`);
  const stop = new AbortController();
  const got: Delivery[][] = topics.map(() => []);
  const running = topics.map((topic, i) => drain(source, [topic], stop.signal, got[i] as Delivery[]));
  const all = async (): Promise<number> => String(await raw.client('LIST')).split('\n').filter((l) => l.includes('name=sse-relay:blocking')).length;
  // The other tests' sources keep their pooled connections open: count only the ones this source adds.
  const others = await all();
  const blocking = async (): Promise<number> => (await all()) - others;
  let most = 0;
  for (let round = 0; round < 5; round++) {
    for (const topic of topics) await source.publish(topic, { data: `${topic}/${round}` });
    most = Math.max(most, await blocking());
  }
  await waitFor(async () => {
    most = Math.max(most, await blocking());
    return got.every((list) => list.length === 5);
  }, 'five items on each of the six topics', 15_000);
  stop.abort();
  await Promise.all(running);
  for (const [i, topic] of topics.entries()) expect(got[i]?.map((d) => d.data)).toEqual([0, 1, 2, 3, 4].map((n) => `${topic}/${n}`));
  expect(most).toBeLessThanOrEqual(2);
  console.log(`list pool: 6 topics, 30 items delivered in order over at most ${most} blocking connections`);
});

test('subscribers that come and go on one topic (the taker retires and returns): every item acknowledged once, none stranded', async () => {
  const source = makeSource();
  for (let i = 0; i < 90; i++) await source.publish('churn', { data: String(i) });
  const acked: string[] = [];
  const visiting = new Set<AbortController>();
  // Each subscriber acknowledges two items, is handed a third and leaves without acknowledging it (the last ones leave
  // when everything is acknowledged).
  const visit = async (): Promise<void> => {
    const stop = new AbortController();
    visiting.add(stop);
    let taken = 0;
    for await (const delivery of source.consume(['churn'], stop.signal)) {
      if (++taken > 2) stop.abort();
      else acked.push((await delivery.ack(), delivery.data));
      if (acked.length === 90) visiting.forEach((visitor) => visitor.abort());
    }
    visiting.delete(stop);
  };
  for (let round = 0; round < 60 && acked.length < 90; round++) await Promise.all([visit(), visit(), visit()]);
  expect(acked.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 90 }, (_, i) => i));
  expect(await raw.llen('sse:q:churn')).toBe(0);
  await waitFor(async () => (await raw.keys('sse:q:churn#processing:*')).length === 0 && (await raw.scard('sse:q#processing')) === 0, 'nothing left in processing lists');
});
