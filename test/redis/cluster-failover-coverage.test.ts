import { afterEach, expect, test } from '@jest/globals';
import type { RunningServer } from '../../functions/server.js';
import { compareStreamIds } from '../../lib/sources/redis/entry.js';
import { keySlot, StreamKeys } from '../../lib/sources/redis/stream-keys.js';
import { redisCli } from '../support/redis-cli.js';
import { RecordingEventSource } from '../support/recording-event-source.js';
import { startCluster, type TestCluster } from '../support/redis-cluster.js';
import { startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { ORCHESTRATION, waitFor } from '../support/wait-for.js';
import { startPacedPublisher, type Attempt } from './paced-publisher.js';

// One shard of a real 3+3 cluster fails over DURING multi-topic streams and publishes: subscribers of two topics on two
// primaries, 100 publishes/s to each, the first topic's primary SIGKILLed; while it is down, EventSources open with a
// cursor taken before the kill. With Redis's default cluster-require-full-coverage yes every node refuses (CLUSTERDOWN)
// from the moment the primary is marked failed until its replica is promoted, the healthy shard included; with `no`
// only the failed shard's topics do (docs/redis.md, "One shard's failover and the other shards").

let cluster: TestCluster | undefined;
let relay: (RunningServer & { url: string }) | undefined;
const closers: (() => void)[] = [];

afterEach(async () => {
  closers.splice(0).forEach((close) => close());
  await relay?.stop();
  await cluster?.stop();
  relay = undefined;
  cluster = undefined;
});

const KEYS = new StreamKeys('sse:', 16);
const slotOf = (topic: string): number => keySlot(`{${KEYS.tagOf(KEYS.partitionOf(topic))}}`);

/** `a=1-0,b=2-0` → each topic's position. */
function positions(cursor: string): Map<string, string> {
  return new Map(cursor.split(',').map((pair) => pair.split('=') as [string, string]));
}

/** The positions each topic went through in a multi-topic stream (an event moves exactly one topic's position). */
function positionsByTopic(cursors: readonly string[], start: string): Map<string, string[]> {
  const byTopic = new Map<string, string[]>();
  let previous = positions(start);
  for (const cursor of cursors) {
    const current = positions(cursor);
    for (const [topic, position] of current) {
      if (previous.get(topic) !== position) byTopic.set(topic, [...(byTopic.get(topic) ?? []), position]);
    }
    previous = current;
  }
  return byTopic;
}

/** What is wrong with a stream that started at `start`: per topic, order, duplicates and acknowledged ids missing. */
function problemsOf(name: string, cursors: readonly string[], start: string, acked: ReadonlyMap<string, readonly string[]>): string[] {
  const problems: string[] = [];
  const seenByTopic = positionsByTopic(cursors, start);
  for (const [topic, ids] of acked) {
    const seen = seenByTopic.get(topic) ?? [];
    if (seen.some((id, i) => i > 0 && compareStreamIds(id, seen[i - 1] as string) !== 1)) problems.push(`${name}: ${topic} out of order or twice`);
    const from = positions(start).get(topic) ?? '0-0';
    const missing = ids.filter((id) => compareStreamIds(id, from) > 0 && !seen.includes(id));
    if (missing.length > 0) problems.push(`${name}: ${topic} missing ${missing.length} of ${ids.length} acknowledged`);
  }
  return problems;
}

async function openLive(url: string): Promise<SseReader> {
  return waitFor(async () => {
    const reader = new SseReader(url);
    await reader.until((r) => r.status !== 0 && (r.status !== 200 || r.retries.length > 0), 10_000).catch(() => undefined);
    if (reader.status === 200) return reader;
    reader.close();
    return undefined;
  }, `${url} to open`, { timeoutMs: 30_000, everyMs: 250 });
}

test.each(['yes', 'no'])('cluster-require-full-coverage %s: one shard fails over during multi-topic streams; exactly once and in order per topic', async (coverage) => {
  cluster = await startCluster();
  for (const port of cluster.ports) await redisCli(port, 'CONFIG', 'SET', 'cluster-require-full-coverage', coverage);
  relay = await startRelay({
    SOURCE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500', REDIS_BLOCK_MS: '1000',
    HEARTBEAT_MS: '500', RETRY_MS: '300', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0', MAX_CONNECTIONS_PER_CLIENT: '1000',
  });
  const failing = 'topic0';
  const failingOwner = await cluster.ownerOf(slotOf(failing));
  let healthy = '';
  for (let i = 1; i < 64 && healthy === ''; i++) if ((await cluster.ownerOf(slotOf(`topic${i}`))) !== failingOwner) healthy = `topic${i}`;
  const url = `${relay.url}/events?topic=${failing}&topic=${healthy}`;
  const readers = await Promise.all(Array.from({ length: 5 }, () => openLive(url)));
  closers.push(...readers.map((r) => () => r.close()));
  const publishers = [startPacedPublisher(relay.url, failing, 100, 32), startPacedPublisher(relay.url, healthy, 100, 32)] as const;
  const acknowledged = (p: { attempts: Attempt[] }, after = 0): number => p.attempts.filter((a) => a.status === 202 && a.at > after).length;
  await waitFor(() => publishers.every((p) => acknowledged(p) >= 50) && (readers[0]?.events.length ?? 0) > 10, '50 publishes acknowledged on each topic', ORCHESTRATION);

  const cursorBeforeKill = readers[0]?.events[5]?.id as string;
  const heir = await cluster.replicaOf(failingOwner);
  const killedAt = Date.now();
  cluster.kill(failingOwner);
  // Browsers that come back while the shard is down, each with the cursor from before the kill (a replay is due).
  const comebacks: RecordingEventSource[] = [];
  await waitFor(async () => {
    const comeback = new RecordingEventSource(`${url}&lastEventId=${encodeURIComponent(cursorBeforeKill)}`, failing);
    comebacks.push(comeback);
    closers.push(() => comeback.close());
    return (await cluster?.ownerOf(slotOf(failing))) === heir;
  }, 'the replica to take over', { ...ORCHESTRATION, everyMs: 300 });
  const promotedMs = Date.now() - killedAt;
  await cluster.restart(failingOwner);
  await waitFor(async () => /master_link_status:up/.test(await redisCli(failingOwner, 'INFO', 'replication')), 'the old primary to rejoin', ORCHESTRATION);
  await waitFor(() => acknowledged(publishers[0], killedAt + promotedMs) >= 50, '50 publishes acknowledged after the takeover', ORCHESTRATION);
  const [failingAttempts, healthyAttempts] = await Promise.all(publishers.map((p) => p.stop()));
  const ackedIds = (attempts: Attempt[]): string[] => attempts.filter((a) => a.status === 202).map((a) => a.id as string).sort(compareStreamIds);
  const acked = new Map([[failing, ackedIds(failingAttempts as Attempt[])], [healthy, ackedIds(healthyAttempts as Attempt[])]]);
  const finalCursor = `${failing}=${acked.get(failing)?.at(-1)},${healthy}=${acked.get(healthy)?.at(-1)}`;
  const caughtUp = (cursors: readonly string[]): boolean => {
    const last = positions(cursors.at(-1) ?? '');
    return [...positions(finalCursor)].every(([topic, id]) => compareStreamIds(last.get(topic) ?? '0-0', id) >= 0);
  };
  const open = comebacks.filter((c) => !c.closed);
  await waitFor(() => readers.every((r) => caughtUp(r.ids)) && open.every((c) => caughtUp(c.events.map((e) => e.id))), 'every stream to reach the last acknowledged message', 20_000)
    .catch(() => undefined);

  const problems = [
    ...readers.flatMap((r, i) => problemsOf(`stream ${i}`, r.ids, `${failing}=0-0,${healthy}=0-0`, acked)),
    ...open.flatMap((c, i) => problemsOf(`comeback ${i}`, c.events.map((e) => e.id), cursorBeforeKill, acked)),
  ];
  const refused = (attempts: readonly Attempt[]): Attempt[] => attempts.filter((a) => a.status !== 202);
  const healthyRefused = refused(healthyAttempts as Attempt[]);
  console.log(`cluster-require-full-coverage ${coverage}: promoted ${promotedMs} ms after SIGKILL; ${failing} ${acked.get(failing)?.length} acknowledged, ` +
    `${refused(failingAttempts as Attempt[]).length} refused; healthy shard's ${healthy} ${acked.get(healthy)?.length} acknowledged, ${healthyRefused.length} refused` +
    (healthyRefused.length > 0 ? ` (sent ${Math.min(...healthyRefused.map((a) => a.at - killedAt))}–${Math.max(...healthyRefused.map((a) => a.at - killedAt))} ms after the kill)` : '') +
    `; ${comebacks.length} streams opened during the failover, ${comebacks.length - open.length} gave up`);
  expect(problems).toEqual([]);
  expect(readers.map((r) => r.error)).toEqual(readers.map(() => undefined));
  expect(open.length).toBe(comebacks.length);
  expect([...refused(failingAttempts as Attempt[]), ...healthyRefused].every((a) => a.status === 503)).toBe(true);
  if (coverage === 'no') expect(healthyRefused).toEqual([]);
}, 90_000);
