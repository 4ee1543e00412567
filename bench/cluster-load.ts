// `npm run bench -- --cluster-load`: issue 15, point 4 at full size. A Redis Cluster (3 primaries + 3 replicas) on
// loopback, two relay PROCESSES with REDIS_WAIT_REPLICAS=1, 300 topics whose names fall on slots all over the range,
// 1,000 EventSource subscribers split over both relays. While publishing (every message retried with the same id until
// acknowledged) a primary is SIGKILLed (its replica takes over, it rejoins as a replica), then slots holding a
// partition are moved with `redis-cli --cluster reshard`. Every subscriber must get every message of its topic once and
// in order, and a cursor must resume exactly on the other relay. Writes bench/results/cluster-load.json; exits 1 on any
// problem. test/redis/cluster.test.ts is the smaller jest version.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { keySlot, StreamKeys } from '../lib/sources/redis/stream-keys.js';
import { RecordingEventSource, sequenceProblems, streamIdOf } from '../test/support/recording-event-source.js';
import { redisCli } from '../test/support/redis-cli.js';
import { ORCHESTRATION, waitFor } from '../test/support/wait-for.js';
import { startCluster, type TestCluster } from '../test/support/redis-cluster.js';
import { untilLive } from '../test/support/relay-scaleout.js';
import { startSequencePublisher, type TopicLog } from '../test/support/sequence-publisher.js';
import { startServerProcess, type ServerProcess } from '../test/support/server-process.js';
import { SseReader } from '../test/support/sse-reader.js';

const TOPICS = 300;
const SUBSCRIBERS = 1_000;
const PARTITIONS = 16;
const RATE = 300;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string): void => console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);

const started = Date.now();
const { result, problems } = await withClusterAndRelays();

const machine = { nproc: cpus().length, node: process.version, cpu: cpus()[0]?.model ?? 'unknown' };
const output = { date: new Date().toISOString(), machine, seconds: Math.round((Date.now() - started) / 1000), ...result, problems };
writeFileSync(new URL('./results/cluster-load.json', import.meta.url.replace('/.esbuild/bench/', '/bench/')), JSON.stringify(output, null, 2) + '\n');
console.log(JSON.stringify({ ...output, problems: problems.length }, null, 2));
console.log(problems.length === 0 ? 'PASS' : `FAIL ${problems.length} problems:\n${problems.slice(0, 20).join('\n')}`);
process.exitCode = problems.length === 0 ? 0 : 1;

/** Starts the cluster and two relay processes, runs the load, and stops everything it started. */
async function withClusterAndRelays() {
  const cluster = await startCluster();
  const relays: ServerProcess[] = [];
  const readers: RecordingEventSource[] = [];
  try {
    const env = {
      SOURCE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes, REDIS_CLUSTER_PARTITIONS: String(PARTITIONS), REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '500', REDIS_BLOCK_MS: '1000', HEARTBEAT_MS: '5000', SHUTDOWN_DRAIN_MS: '0', DEMO: 'false',
      MAX_CONNECTIONS: '5000', MAX_CONNECTIONS_PER_CLIENT: '5000',
    };
    relays.push(await startServerProcess(env, 20_000), await startServerProcess(env, 20_000));
    return await run(cluster, relays, readers);
  } finally {
    readers.forEach((r) => r.close());
    await Promise.all(relays.map((r) => r.kill('SIGKILL')));
    await cluster.stop();
  }
}

async function run(cluster: TestCluster, relays: ServerProcess[], readers: RecordingEventSource[]) {
  const topics = Array.from({ length: TOPICS }, (_, i) => `c${i}`);
  const slots = topics.map((t) => keySlot(t)).sort((a, b) => a - b);
  const keys = new StreamKeys('sse:', PARTITIONS);
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const topic = topics[i % TOPICS] as string;
    readers.push(new RecordingEventSource(`${relays[i % 2]?.url}/events?topic=${topic}`, topic));
    if (i % 100 === 99) await sleep(20);
  }
  await untilLive(relays[0]?.url as string, readers, topics);
  log(`${SUBSCRIBERS} subscribers live on 2 relays`);
  const halves = [topics.filter((_, i) => i % 2 === 0), topics.filter((_, i) => i % 2 === 1)];
  const publishers = halves.map((mine, i) => startSequencePublisher({ url: relays[i]?.url as string, topics: mine, ratePerSecond: RATE / 2 }));
  await sleep(4_000);
  const faults = await killPrimaryThenReshard(cluster, keys);
  await sleep(4_000);
  const logs = (await Promise.all(publishers.map((p) => p.stop()))).flat();
  log(`publishing stopped: ${logs.reduce((s, l) => s + l.acknowledged, 0)} acknowledged`);
  const byTopic = new Map(logs.map((l) => [l.topic, l]));
  const deadline = Date.now() + 60_000;
  while (!readers.every((r) => r.sequence.length >= (byTopic.get(r.topic)?.acknowledged ?? 0) || r.closed) && Date.now() < deadline) await sleep(200);
  const problems = readers.flatMap((r, i) => sequenceProblems(`subscriber ${i}`, r, byTopic.get(r.topic) as TopicLog));
  problems.push(...readers.filter((r) => r.closed || r.errors.length > 0).map((r) => `a subscriber of ${r.topic} lost its stream`));
  problems.push(...logs.filter((l) => l.abandoned > 0).map((l) => `publisher: gave up on a message of ${l.topic}`));
  const refused = logs.flatMap((l) => l.refused);
  problems.push(...refused.filter((s) => s !== 503).map((s) => `a publish was answered ${s}, not 202 or 503`));
  const resume = await resumeOnOtherRelay(readers, relays, topics);
  problems.push(...resume.problems);
  const connections = await countConnections(cluster);
  const result = {
    topics: TOPICS, subscribers: SUBSCRIBERS, partitions: PARTITIONS, topicSlots: { distinct: new Set(slots).size, min: slots[0], max: slots.at(-1) },
    acknowledged: logs.reduce((s, l) => s + l.acknowledged, 0), refused: refused.length, refusedStatuses: [...new Set(refused)],
    delivered: readers.reduce((s, r) => s + r.sequence.length, 0), ...faults, resumed: resume.checked, connections,
  };
  return { result, problems };
}

/** (a) SIGKILL the primary of the last partition's slot and wait for its replica; (b) move the first partition's slot. */
async function killPrimaryThenReshard(cluster: TestCluster, keys: StreamKeys) {
  const lastSlot = keySlot(`{${keys.tagOf(PARTITIONS - 1)}}`);
  const victim = await cluster.ownerOf(lastSlot);
  const heir = await cluster.replicaOf(victim);
  const killedAt = Date.now();
  cluster.kill(victim);
  await waitFor(async () => (await cluster.ownerOf(lastSlot)) === heir, 'the replica to take over', ORCHESTRATION);
  const promotedMs = Date.now() - killedAt;
  log(`primary ${victim} SIGKILLed, replica ${heir} promoted after ${promotedMs} ms`);
  await cluster.restart(victim);
  await waitFor(async () => /master_link_status:up/.test(await redisCli(victim, 'INFO', 'replication')), 'the old primary to rejoin as a replica',
    { ...ORCHESTRATION, timeoutMs: 30_000 });
  const firstSlot = keySlot(`{${keys.tagOf(0)}}`);
  const from = await cluster.ownerOf(firstSlot);
  const to = (await cluster.ownerOf(8_000)) === from ? await cluster.ownerOf(lastSlot) : await cluster.ownerOf(8_000);
  const reshardAt = Date.now();
  await cluster.reshard(from, to, firstSlot + 1);
  const movedTo = await cluster.ownerOf(firstSlot);
  if (movedTo !== to) throw new Error(`slot ${firstSlot} is on ${movedTo} after the reshard, expected ${to}`);
  log(`slots 0-${firstSlot} moved from ${from} to ${to} in ${Date.now() - reshardAt} ms`);
  return { promotedMs, reshardMs: Date.now() - reshardAt, movedSlots: firstSlot + 1 };
}

/** One subscriber per topic reconnects to the other relay with the cursor of its middle event and must get exactly the rest. */
async function resumeOnOtherRelay(readers: RecordingEventSource[], relays: ServerProcess[], topics: string[]) {
  const problems: string[] = [];
  const fresh: SseReader[] = [];
  try {
    const checks = topics.map((topic, t) => {
      const reader = readers[t] as RecordingEventSource;
      const middle = Math.floor(reader.events.length / 2);
      const cursor = reader.events[middle]?.id as string;
      const expected = reader.events.slice(middle + 1).map((e) => streamIdOf(e.id));
      const other = relays[(t + 1) % 2] as ServerProcess;
      const sse = new SseReader(`${other.url}/events?topic=${topic}&lastEventId=${encodeURIComponent(cursor)}`);
      fresh.push(sse);
      return { topic, sse, expected };
    });
    for (const { topic, sse, expected } of checks) {
      await sse.until((x) => x.events.length >= expected.length, 20_000).catch(() => undefined);
      const got = sse.events.map((e) => streamIdOf(e.id ?? ''));
      if (got.join() !== expected.join()) problems.push(`resume of ${topic}: got ${got.length} events, expected ${expected.length}, first ${got[0]} vs ${expected[0]}`);
    }
    return { problems, checked: checks.length };
  } finally {
    fresh.forEach((r) => r.close());
  }
}

async function countConnections(cluster: TestCluster) {
  let blocking = 0;
  let total = 0;
  for (const port of cluster.ports) {
    const clients = (await redisCli(port, 'CLIENT', 'LIST')).split('\n');
    blocking += clients.filter((c) => c.includes('name=sse-relay:blocking')).length;
    total += clients.filter((c) => c.includes('name=sse-relay:')).length;
  }
  return { blocking, total };
}
