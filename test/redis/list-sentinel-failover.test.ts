import { afterEach, expect, test } from '@jest/globals';
import type { RunningServer } from '../../functions/server.js';
import { redisCli } from '../support/redis-cli.js';
import { ORCHESTRATION, waitFor } from '../support/wait-for.js';
import { startSentinelGroup, type TestSentinelGroup } from '../support/redis-sentinel.js';
import { RecordingEventSource } from '../support/recording-event-source.js';
import { startRelay } from '../support/relay-server.js';
import { startPacedPublisher } from './paced-publisher.js';

// Issue #15 point 3 for the queue source: a primary, a replica and three sentinels on loopback; three EventSources
// compete for SOURCE=redis-list items published at 200 msg/s with REDIS_WAIT_REPLICAS=1, and the primary is SIGKILLed.
// Every acknowledged item must reach one of them (a duplicate is allowed: queue delivery is at least once across a
// failover) and refusals are 503 only. A plain EventSource that reconnects mid-failover is refused with 503
// source_unavailable and gives up (README "Errors"); here the page opens a new one after Retry-After, as RelayClient does.

let group: TestSentinelGroup | undefined;
let relay: (RunningServer & { url: string }) | undefined;
const readers: RecordingEventSource[] = [];
let reopening: ReturnType<typeof setInterval> | undefined;

afterEach(async () => {
  clearInterval(reopening);
  readers.splice(0).forEach((r) => r.close());
  await relay?.stop();
  await group?.stop();
  relay = undefined;
  group = undefined;
});

test('redis-list on Sentinel, REDIS_WAIT_REPLICAS=1: SIGKILL of the primary at 200 msg/s loses no acknowledged message', async () => {
  group = await startSentinelGroup();
  relay = await startRelay({
    SOURCE: 'redis-list', REDIS_SENTINELS: group.sentinels, REDIS_SENTINEL_NAME: group.name, REDIS_WAIT_REPLICAS: '1',
    REDIS_WAIT_TIMEOUT_MS: '500', REDIS_BLOCK_MS: '1000', HEARTBEAT_MS: '500', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0',
  });
  readers.push(...[1, 2, 3].map(() => new RecordingEventSource(`${relay!.url}/events?topic=orders`, 'orders')));
  await waitFor(() => readers.every((r) => r.opens.length > 0), 'the readers to open', ORCHESTRATION);
  // Three tabs stay subscribed: one that was refused is replaced after the 1-5 s a 503's Retry-After asks for.
  let replaced = 0;
  const open = (): number => readers.filter((r) => !r.closed).length;
  reopening = setInterval(() => {
    if (open() < 3) {
      replaced += 1;
      readers.push(new RecordingEventSource(`${relay!.url}/events?topic=orders`, 'orders'));
    }
  }, 1_000);
  const publisher = startPacedPublisher(relay.url, 'orders', 200);
  const acknowledged = (after = 0): number => publisher.attempts.filter((a) => a.at > after && a.status === 202).length;
  await waitFor(() => acknowledged() >= 100, '100 publishes acknowledged before the kill', ORCHESTRATION);
  const [first, second] = group.serverPorts as [number, number];
  const killedAt = Date.now();
  group.kill(first);
  await waitFor(async () => (await group!.primaryPort()) === second, 'the sentinels to promote the replica', ORCHESTRATION);
  const promotedMs = Date.now() - killedAt;
  await group.restart(first, second);
  await waitFor(() => acknowledged(killedAt + promotedMs) >= 100, '100 publishes acknowledged after the failover', { ...ORCHESTRATION, timeoutMs: 30_000 })
    .catch(async (error: Error) => {
      throw new Error(`${error.message}; the new primary reports:\n${await redisCli(second, 'INFO', 'replication')}`);
    });
  const attempts = await publisher.stop();
  const acked = new Set(attempts.filter((a) => a.status === 202).map((a) => a.seq));
  const seen = (): Set<number> => new Set(readers.flatMap((r) => r.sequence));
  await waitFor(() => [...acked].every((s) => seen().has(s)), 'every acknowledged message delivered', { ...ORCHESTRATION, timeoutMs: 20_000 })
    .catch(() => undefined);
  const lost = [...acked].filter((s) => !seen().has(s));
  const all = readers.flatMap((r) => r.sequence);
  console.log(`redis-list Sentinel failover: ${attempts.length} published, ${acked.size} acknowledged, refused ` +
    `${attempts.filter((a) => a.status !== 202).length} (${[...new Set(attempts.filter((a) => a.status !== 202).map((a) => a.status))].join('/')}), ` +
    `promoted ${promotedMs} ms after SIGKILL, delivered ${all.length} (duplicates ${all.length - new Set(all).size}), lost ${lost.length}: ${lost.slice(0, 20).join(',')}; ` +
    `errors ${readers.map((r) => r.errors.map((t) => t - killedAt).join(' ')).join('/')}, opens ${readers.map((r) => r.opens.map((t) => t - killedAt).join(' ')).join('/')}, replaced ${replaced}`);
  expect(lost).toEqual([]);
  expect(attempts.filter((a) => a.status !== 202).every((a) => a.status === 503)).toBe(true);
}, 90_000);
