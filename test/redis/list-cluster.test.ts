import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Cluster } from 'ioredis';
import { FIXED_SETTINGS } from '../../lib/config/index.js';
import type { Delivery } from '../../lib/source.js';
import { RedisListSource, type RedisListSettings } from '../../lib/sources/redis/list.js';
import { keySlot } from '../../lib/sources/redis/stream-keys.js';
import type { RedisTarget } from '../../lib/sources/redis/target.js';
import { startCluster, type TestCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/wait-for.js';

// SOURCE=redis-list on a real Redis Cluster (3 primaries + 3 replicas on loopback): every key of a topic carries the
// topic as its hash tag, so BLMOVE, the idempotent push and the recovery script each touch one slot.

const TTL_MS = 1_000;
let cluster: TestCluster;
let target: Extract<RedisTarget, { kind: 'cluster' }>;
let raw: Cluster;
const sources: RedisListSource[] = [];

function makeSource(extra: Partial<RedisListSettings> = {}): RedisListSource {
  const source = new RedisListSource({
    target, keyPrefix: 'sse:', blockMs: 500, maxMessageBytes: 65_536, consumerTtlMs: TTL_MS,
    idempotencyTtlSeconds: FIXED_SETTINGS.redisIdempotencyTtlSeconds, ...extra,
  });
  sources.push(source);
  return source;
}

/**
 * Resolves once `source` can publish: a fresh cluster on a loaded machine may still be settling when the first command
 * goes out (ioredis then refuses it: no offline queue), and a producer retries then, as this does.
 */
async function untilPublishes(source: RedisListSource): Promise<RedisListSource> {
  await waitFor(() => source.publish('scratch', { data: 'ready?' }).then(() => true, () => false), 'the cluster to take a publish', { timeoutMs: 30_000, everyMs: 200 });
  return source;
}

async function drain(source: RedisListSource, topics: string[], signal: AbortSignal, got: Delivery[], ack = true): Promise<void> {
  for await (const delivery of source.consume(topics, signal)) {
    got.push(delivery);
    if (ack) await delivery.ack();
  }
}

/** `count` topic names whose slots are spread over the whole slot range (so over every primary). */
function spreadTopics(count: number): string[] {
  const topics: string[] = [];
  for (let n = 0; topics.length < count; n++) {
    const name = `job${n}`;
    if (Math.floor((keySlot(name) * count) / 16_384) === topics.length) topics.push(name);
  }
  return topics;
}

beforeAll(async () => {
  cluster = await startCluster();
  const nodes = cluster.ports.map((port) => ({ host: '127.0.0.1', port }));
  target = { kind: 'cluster', nodes, auth: { username: undefined, password: undefined, tls: false }, partitions: 16 };
  raw = new Cluster(nodes);
}, 60_000);

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  raw?.disconnect();
  await cluster?.stop();
});

test('items of topics on every primary go to exactly one of three consumers, in order, and acked items leave Redis', async () => {
  const topics = spreadTopics(12);
  const owners = new Set(await Promise.all(topics.map((topic) => cluster.ownerOf(keySlot(topic)))));
  expect(owners.size).toBe(3);
  const source = await untilPublishes(makeSource({ replication: { replicas: 1, timeoutMs: 1_000 } }));
  const stop = new AbortController();
  const got: Delivery[][] = [[], [], []];
  const running = got.map((list) => drain(source, topics, stop.signal, list));
  const ids = new Map<string, string>();
  for (let i = 0; i < 10; i++) {
    for (const topic of topics) ids.set(`${topic}/${i}`, (await source.publish(topic, { data: `${topic}/${i}`, key: `k${i}` })).id);
  }
  // The same idempotency keys again: the first ids come back and nothing is pushed twice.
  for (const topic of topics) expect((await source.publish(topic, { data: 'again', key: 'k3' })).id).toBe(ids.get(`${topic}/3`));
  await waitFor(() => got.flat().length >= 120, '120 deliveries', 20_000);
  stop.abort();
  await Promise.all(running);
  const data = got.flat().map((d) => d.data);
  expect(data).toHaveLength(120);
  expect(new Set(data).size).toBe(120);
  for (const list of got) {
    for (const topic of topics) {
      const numbers = list.filter((d) => d.topic === topic).map((d) => Number(d.data.split('/')[1]));
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    }
  }
  for (const topic of topics) expect(await raw.llen(`sse:q:{${topic}}`)).toBe(0);
  // Each topic's taker retires once its last subscriber left (after its BLMOVE in flight ends): list back, unregistered.
  await waitFor(async () => (await Promise.all(topics.map((topic) => raw.scard(`sse:q:{${topic}}#processing`)))).every((n) => n === 0), 'every taker retired');
  console.log(`list on cluster: 120 items over 12 topics on 3 primaries, split ${got.map((l) => l.length).join('/')} between 3 consumers`);
}, 60_000);

test('a consumer killed mid-processing: a recovery pass in another process moves its items back, in the topic\'s slot', async () => {
  const topic = spreadTopics(3)[2] as string;
  const source = await untilPublishes(makeSource());
  for (let i = 0; i < 3; i++) await source.publish(topic, { data: `item${i}` });
  const fixture = fileURLToPath(new URL('./fixtures/list-consumer.mjs', import.meta.url));
  const child = spawn(process.execPath, [fixture, JSON.stringify(target), topic, String(TTL_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let taken = '';
  child.stdout.on('data', (chunk: Buffer) => (taken += chunk.toString()));
  await waitFor(() => taken.split('\n').length > 3, 'the child consumer to take 3 items', 15_000);
  if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  expect(await raw.llen(`sse:q:{${topic}}`)).toBe(0);
  expect(await raw.smembers('sse:q#topics')).toContain(topic);

  const stop = new AbortController();
  const got: Delivery[] = [];
  const running = drain(source, [topic], stop.signal, got);
  await waitFor(() => got.length === 3, 'the recovered items', TTL_MS * 8);
  stop.abort();
  await running;
  expect(got.map((d) => d.data)).toEqual(['item0', 'item1', 'item2']);
  await waitFor(async () => (await raw.scard(`sse:q:{${topic}}#processing`)) === 0, 'the taker retired');
}, 60_000);

test('a primary killed while publishing with REDIS_WAIT_REPLICAS=1: every acknowledged item is delivered', async () => {
  const topic = spreadTopics(3)[1] as string;
  const victim = await cluster.ownerOf(keySlot(topic));
  const heir = await cluster.replicaOf(victim);
  const source = await untilPublishes(makeSource({ replication: { replicas: 1, timeoutMs: 500 } }));
  const acknowledged: string[] = [];
  let refused = 0;
  let publishing = true;
  const publisher = (async () => {
    for (let i = 0; publishing && i < 2_000; i++) {
      // A refused publish is retried by the producer with the same key, as the docs tell producers to do.
      for (let attempt = 0; publishing; attempt++) {
        try {
          await source.publish(topic, { data: `m${i}`, key: `m${i}` });
          acknowledged.push(`m${i}`);
          break;
        } catch {
          refused += 1;
          await new Promise((resolve) => setTimeout(resolve, Math.min(50 * (attempt + 1), 500)));
        }
      }
    }
  })();
  await waitFor(() => acknowledged.length >= 50, '50 acknowledged publishes', 15_000);
  cluster.kill(victim);
  await waitFor(async () => (await cluster.ownerOf(keySlot(topic))) === heir, 'the replica to take over', 30_000);
  // The new primary has no replica until the killed node comes back as one: until then WAIT refuses every publish.
  await cluster.restart(victim);
  const before = acknowledged.length;
  await waitFor(() => acknowledged.length >= before + 50, '50 more acknowledged publishes after the failover', 30_000);
  publishing = false;
  await publisher;

  const stop = new AbortController();
  const got: Delivery[] = [];
  const running = drain(source, [topic], stop.signal, got);
  await waitFor(() => acknowledged.every((data) => got.some((d) => d.data === data)), 'every acknowledged item', 30_000);
  stop.abort();
  await running;
  console.log(`list on cluster, primary killed: ${acknowledged.length} acknowledged, ${refused} publishes refused and retried, `
    + `${got.length} delivered (${got.length - new Set(got.map((d) => d.data)).size} duplicates)`);
}, 120_000);

// QUEUE_ACK=client removes an item by handle, from the holding process or any other, with a once-per-handle marker that
// must share the topic's slot (a CROSSSLOT error would answer every acknowledgement 503).
test('acknowledgements by handle (the holder and another process, each sent twice) remove one item each, in the topic\'s slot', async () => {
  const holder = await untilPublishes(makeSource());
  const other = await untilPublishes(makeSource());
  const topic = spreadTopics(3)[2] as string;
  const same = JSON.stringify({ data: 'refresh' });
  await raw.lpush(`sse:q:{${topic}}`, same, same, same);
  const controller = new AbortController();
  const got: Delivery[] = [];
  const consuming = drain(holder, [topic], controller.signal, got, false);
  await waitFor(() => got.length >= 2, 'two identical items taken');
  const [first, second] = got as [Delivery, Delivery];
  await first.acknowledgeHandle?.();
  await other.acknowledge(topic, [first.handle]);
  await other.acknowledge(topic, [second.handle, second.handle]);
  await first.acknowledgeHandle?.();
  // KEYS on a Cluster client asks one node only: the processing list is named from the handle (<topic>~<process>~…).
  const held = await raw.llen(`sse:q:{${topic}}#processing:${first.handle.split('~')[1] as string}`);
  // Two handles acknowledged (each twice): two of the three identical items removed, whichever is held where.
  expect(await raw.llen(`sse:q:{${topic}}`) + held).toBe(1);
  controller.abort();
  await consuming;
}, 30_000);
