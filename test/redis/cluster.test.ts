import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { RunningServer } from '../../functions/server.js';
import { compareStreamIds } from '../../lib/sources/redis/entry.js';
import { keySlot, StreamKeys } from '../../lib/sources/redis/stream-keys.js';
import { redisCli } from '../support/redis-cli.js';
import { ORCHESTRATION, waitFor } from '../support/wait-for.js';
import { startCluster, type TestCluster } from '../support/redis-cluster.js';
import { startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { expectExactlyOnceInOrder, positionOf, startPacedPublisher, type Attempt } from './paced-publisher.js';

// Redis Cluster for real: 3 primaries + 3 replicas on loopback, two relay processes' worth of sources (in this process),
// topics over every partition, subscribers split over both relays. During publishing a primary is SIGKILLed (its
// replica takes over, the node comes back as a replica) and then a populated slot is moved with `redis-cli --cluster
// reshard`. The larger run (300 topics, 1,000 subscribers, two relay processes) is `npm run bench -- --cluster-load`
// (bench/cluster-load.ts; figures in docs/redis.md).

const TOPICS = 48;
const SUBSCRIBERS = 96;
const PARTITIONS = 16;
let cluster: TestCluster;
const relays: (RunningServer & { url: string })[] = [];
const readers: SseReader[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  const env = {
    SOURCE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500', REDIS_BLOCK_MS: '1000',
    HEARTBEAT_MS: '500', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0', MAX_CONNECTIONS_PER_CLIENT: '1000',
  };
  relays.push(await startRelay(env), await startRelay(env));
}, 60_000);

afterAll(async () => {
  readers.forEach((r) => r.close());
  await Promise.all(relays.map((r) => r.stop()));
  await cluster?.stop();
});

// Names whose slots fall into every partition, so that the resharded partition 0 holds topics (t0…t47 leave 0–3 empty).
const nameOf = (t: number): string => `topic${t}`;
const topicOf = (i: number): string => nameOf(i % TOPICS);

/**
 * A stream that is live (200 and its first retry:). A fresh cluster can still refuse the first reads of a topic with 503
 * (slots settling while a loaded machine runs other suites); a browser retries then, and so does this.
 */
async function openLive(url: string): Promise<SseReader> {
  let lastStatus = 0;
  return waitFor(async () => {
    const reader = new SseReader(url);
    await reader.until((x) => x.status !== 0 && (x.status !== 200 || x.retries.length > 0), 10_000).catch(() => undefined);
    if (reader.status === 200 && reader.retries.length > 0) return reader;
    lastStatus = reader.status;
    reader.close();
    return undefined;
  }, () => `${url} to open live (last status ${lastStatus})`, { timeoutMs: 30_000, everyMs: 250 });
}

test('every subscriber gets every acknowledged message of its topic once and in order through a primary kill and a reshard', async () => {
  readers.push(...(await Promise.all(Array.from({ length: SUBSCRIBERS }, (_, i) => openLive(`${relays[i % 2]!.url}/events?topic=${topicOf(i)}`)))));
  const publishers = Array.from({ length: TOPICS }, (_, i) => startPacedPublisher(relays[i % 2]!.url, topicOf(i), 200 / TOPICS, 16));
  const everyTopicAcknowledged = (count: number, after: number): boolean =>
    publishers.every((p) => p.attempts.filter((a) => a.at > after && a.status === 202).length >= count);
  await waitFor(() => everyTopicAcknowledged(3, 0), 'three publishes acknowledged on every topic', ORCHESTRATION);

  // (a) SIGKILL the primary of the last partition's slot; its replica takes over; the node returns as a replica.
  const keys = new StreamKeys('sse:', PARTITIONS);
  const lastSlot = keySlot(`{${keys.tagOf(PARTITIONS - 1)}}`);
  const victim = await cluster.ownerOf(lastSlot);
  const heir = await cluster.replicaOf(victim);
  const killedAt = Date.now();
  cluster.kill(victim);
  await waitFor(async () => (await cluster.ownerOf(lastSlot)) === heir, 'the replica to take over', ORCHESTRATION);
  const promotedMs = Date.now() - killedAt;
  await cluster.restart(victim);
  await waitFor(async () => /master_link_status:up/.test(await redisCli(victim, 'INFO', 'replication')), 'the old primary to rejoin as a replica',
    ORCHESTRATION);

  // (b) move the first partition's slot (and the slots below it) to another primary while publishing goes on.
  const firstSlot = keySlot(`{${keys.tagOf(0)}}`);
  const from = await cluster.ownerOf(firstSlot);
  const to = (await cluster.ownerOf(8_000)) === from ? await cluster.ownerOf(lastSlot) : await cluster.ownerOf(8_000);
  await cluster.reshard(from, to, firstSlot + 1);
  const reshardedAt = Date.now();
  expect(await cluster.ownerOf(firstSlot)).toBe(to);
  await waitFor(() => everyTopicAcknowledged(1, reshardedAt), 'a publish acknowledged on every topic after the reshard', ORCHESTRATION);
  const attempts = (await Promise.all(publishers.map((p) => p.stop()))).flat();

  const acked = new Map<string, Attempt[]>();
  for (let t = 0; t < TOPICS; t++) {
    const mine = (await publishers[t]!.stop()).filter((a) => a.status === 202).sort((a, b) => compareStreamIds(a.id as string, b.id as string));
    acked.set(nameOf(t), mine);
  }
  for (let t = 0; t < TOPICS; t++) {
    const topicReaders = readers.filter((_, i) => topicOf(i) === nameOf(t));
    const last = acked.get(nameOf(t))!.at(-1)?.id;
    if (last !== undefined) await Promise.all(topicReaders.map((r) => r.until((x) => x.events.some((e) => positionOf(e.id) === last), 15_000)));
    expectExactlyOnceInOrder(topicReaders, acked.get(nameOf(t))!);
  }
  const refused = attempts.filter((a) => a.status !== 202);
  // No stuck topic: every topic of the moved partition takes publishes again after the reshard.
  const moved = Array.from({ length: TOPICS }, (_, t) => t).filter((t) => keys.partitionOf(nameOf(t)) === 0);
  expect(moved.length).toBeGreaterThan(0);
  for (const t of moved) expect([nameOf(t), acked.get(nameOf(t))!.some((a) => a.at > reshardedAt)]).toEqual([nameOf(t), true]);
  console.log(`Cluster: ${attempts.length} published over ${TOPICS} topics, ${attempts.length - refused.length} acknowledged, ` +
    `${refused.length} refused (${[...new Set(refused.map((a) => a.status))].join('/')}); replica promoted ${promotedMs} ms after SIGKILL; ` +
    `slots 0-${firstSlot} moved during publishing`);
  expect(refused.every((a) => a.status === 503)).toBe(true);
  expect(attempts.length - refused.length).toBeGreaterThan(attempts.length / 2);
}, 90_000);

test('a subscriber resumes exactly from a cursor on the other relay', async () => {
  const resumed = readers.slice(0, TOPICS).map((reader, i) => {
    const middle = Math.floor(reader.events.length / 2);
    const cursor = reader.events[middle]?.id as string;
    const expected = reader.events.slice(middle + 1).map((e) => positionOf(e.id));
    return { fresh: new SseReader(`${relays[(i + 1) % 2]!.url}/events?topic=${topicOf(i)}&lastEventId=${encodeURIComponent(cursor)}`), expected };
  });
  readers.push(...resumed.map((r) => r.fresh));
  for (const { fresh, expected } of resumed) {
    await fresh.until((x) => x.events.length >= expected.length, 10_000);
    expect(fresh.events.map((e) => positionOf(e.id))).toEqual(expected);
  }
});

test('connections stay bounded: at most one blocking reader per partition per relay, whatever the topics', async () => {
  let blocking = 0;
  let total = 0;
  for (const port of cluster.ports) {
    const clients = (await redisCli(port, 'CLIENT', 'LIST')).split('\n');
    blocking += clients.filter((c) => c.includes('name=sse-relay:blocking')).length;
    total += clients.filter((c) => c.includes('name=sse-relay:')).length;
  }
  console.log(`Cluster connections of 2 relays, ${TOPICS} topics, ${SUBSCRIBERS * 1.5} subscribers: ${blocking} blocking, ${total} in all`);
  expect(blocking).toBeLessThanOrEqual(2 * PARTITIONS);
  // Per relay: the blocking readers, plus a command and a publish connection to each of the 6 nodes at most.
  expect(total).toBeLessThanOrEqual(2 * (PARTITIONS + 2 * 6));
});
