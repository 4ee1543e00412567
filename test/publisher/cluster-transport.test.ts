import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Cluster } from 'ioredis';
import { keySlot, StreamKeys } from '../../lib/sources/redis/stream-keys.js';
import { createPublisher, redisTransport } from '../../publisher/index.js';
import { startCluster, type TestCluster } from '../support/redis-cluster.js';
import { publish, startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

// The Redis transport of sse-relay/publisher given an ioredis Cluster, into relays on a real Redis Cluster (3 primaries
// + 3 replicas on loopback) left at their defaults: the publisher must write the cluster's key layout (hash-tagged
// partitions for streams, the topic as hash tag for lists), or the relay never reads what was "published".

let cluster: TestCluster;
const cleanups: (() => Promise<unknown> | void)[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  cleanups.push(() => cluster.stop());
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function clusterClient(): Cluster {
  const redis = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  cleanups.push(() => redis.disconnect());
  return redis;
}

/** Three topics in three thirds of the slot range, so on three primaries. */
const TOPICS = [0, 1, 2].map((third) => {
  for (let n = 0; ; n++) if (Math.floor((keySlot(`t${n}`) * 3) / 16_384) === third) return `t${n}`;
});

test.each(['stream', 'list'] as const)('mode %s: what the publisher writes through a Cluster client reaches the subscribers of a relay on the cluster', async (mode) => {
  const relay = await startRelay({ SOURCE: mode === 'stream' ? 'redis' : 'redis-list', REDIS_CLUSTER_NODES: cluster.nodes, SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  // A fresh cluster may not serve every slot yet (on a loaded host it took over 5 s once): a stream opened before the
  // relay is ready is refused with 503, which this reader does not retry.
  await waitFor(async () => (await fetch(`${relay.url}/readyz`)).status === 200, 'the relay ready on the fresh cluster', { timeoutMs: 30_000, everyMs: 200 });
  const readers = TOPICS.map((topic) => new SseReader(`${relay.url}/events?topic=${topic}`));
  cleanups.push(() => readers.forEach((r) => r.close()));
  await Promise.all(readers.map((r) => r.until((s) => s.status === 200 && s.retries.length > 0)));
  const publisher = createPublisher(redisTransport({ redis: clusterClient(), mode }));
  // A fresh cluster may still refuse the first commands while ioredis learns its slots: retried, as a producer would.
  await waitFor(() => publisher.publish('scratch', 'ready?').then(() => true, () => false), 'the cluster to take a write', { timeoutMs: 30_000, everyMs: 200 });
  for (const topic of TOPICS) {
    await publisher.publish(topic, `first of ${topic}`);
    await publisher.publish(topic, `second of ${topic}`, { event: 'note', id: `k-${topic}` });
    await publisher.publish(topic, `second of ${topic}`, { event: 'note', id: `k-${topic}` }); // the same key: stored once
  }
  await Promise.all(readers.map((r) => r.until((s) => s.events.length >= 2, 10_000)));
  expect(readers.map((r) => r.events.map((e) => [e.event ?? 'message', e.data])))
    .toEqual(TOPICS.map((topic) => [['message', `first of ${topic}`], ['note', `second of ${topic}`]]));
}, 60_000);

// REDIS_CLUSTER_PARTITIONS decides which hash-tagged stream key a topic lives in. A relay or producer with another
// count wrote and read other keys: POST /publish 202 and every stream silent, the messages lost without an error. The
// first to connect records its count (lib/sources/redis/partition-marker.ts); the others refuse to go on without it.
test('a relay or producer whose REDIS_CLUSTER_PARTITIONS differs from the cluster\'s recorded count is refused, naming the count to use', async () => {
  const agreed = await startRelay({ SOURCE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes, SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => agreed.stop());
  await waitFor(async () => (await fetch(`${agreed.url}/readyz`)).status === 200, 'the relay at the default count ready', { timeoutMs: 30_000, everyMs: 200 });
  expect(await clusterClient().get('sse:#cluster-partitions')).toBe('16');

  const other = await startRelay({ SOURCE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes, REDIS_CLUSTER_PARTITIONS: '8', SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => other.stop());
  const elsewhere = new StreamKeys('sse:', 8).stream(TOPICS[0] as string); // where a count of 8 would write it
  const before = await clusterClient().xlen(elsewhere);
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const events = await fetch(`${other.url}/events?topic=${TOPICS[0]}`);
    await events.body?.cancel();
    statuses.push((await fetch(`${other.url}/readyz`)).status, events.status, (await publish(other.url, { topic: TOPICS[0] as string, data: 'lost?' })).status);
  }
  expect(statuses).toEqual(Array.from({ length: 9 }, () => 503));
  expect(await clusterClient().xlen(elsewhere)).toBe(before);

  const producer = createPublisher(redisTransport({ redis: clusterClient(), clusterPartitions: 8 }));
  await expect(producer.publish(TOPICS[0] as string, 'lost?')).rejects.toMatchObject({
    code: 'invalid_config',
    message: expect.stringMatching(/clusterPartitions is 8 but .* use 16 \(key sse:#cluster-partitions\).*Set redisTransport clusterPartitions to 16/),
  });
  // The producer at the recorded count publishes as before.
  await createPublisher(redisTransport({ redis: clusterClient() })).publish(TOPICS[0] as string, 'kept');
}, 60_000);
