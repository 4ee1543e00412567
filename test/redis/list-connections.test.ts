import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { RunningServer } from '../../functions/server.js';
import { redisCli } from '../support/redis-cli.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor, waitForSteady } from '../support/wait-for.js';

// SOURCE=redis-list: the Redis connections of a relay process and the Redis commands per delivered message must not grow
// with the number of subscribers. One taker per topic per process BLMOVEs for all of the topic's local subscribers.
// Measured with CLIENT LIST and INFO commandstats, with 10 and then with 200 subscribers of one topic: per delivered
// message, and per second while the queue is empty (re-issued BLMOVEs and heartbeats), with REDIS_BLOCK_MS=500.

const MESSAGES = 50;
const IDLE_MS = 2_000;
let redis: TestRedis;
const relays: (RunningServer & { url: string })[] = [];
const readers: SseReader[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  readers.forEach((r) => r.close());
  await Promise.all(relays.map((relay) => relay.stop()));
  await redis?.stop();
});

/** Connections the relay holds (they carry an `sse-relay:<role>` name), from the server's point of view. */
async function relayConnections(): Promise<number> {
  return (await redisCli(redis.port, 'CLIENT', 'LIST')).split('\n').filter((line) => / name=sse-relay:/.test(line)).length;
}

/**
 * Calls so far: `probe` counts the taker's batch probe (an EVAL of TAKE_SOME_SCRIPT and the LMOVE inside it, at most 2
 * per message: it follows a BLMOVE that answered within 5 ms, so how often depends on timing, never on subscribers).
 */
async function totalCalls(): Promise<{ work: number; probe: number }> {
  const stats = await redisCli(redis.port, 'INFO', 'commandstats');
  const calls = [...stats.matchAll(/^cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/gm)].filter(([, name]) => !/^(info|client)/.test(name as string));
  const sum = (rows: typeof calls): number => rows.reduce((total, [, , count]) => total + Number(count), 0);
  const isProbe = ([, name]: (typeof calls)[number]): boolean => name === 'eval' || name === 'lmove';
  return { work: sum(calls.filter((row) => !isProbe(row))), probe: sum(calls.filter(isProbe)) };
}

const callsSince = async (from: { work: number; probe: number }): Promise<{ work: number; probe: number }> => {
  const now = await totalCalls();
  return { work: now.work - from.work, probe: now.probe - from.probe };
};

const pingCalls = async (): Promise<number> => Number(/^cmdstat_ping:calls=(\d+)/m.exec(await redisCli(redis.port, 'INFO', 'commandstats'))?.[1] ?? 0);

const delivered = (mine: SseReader[]): number => mine.reduce((sum, r) => sum + r.events.length, 0);

// Each measurement has a relay process of its own, so that one's pooled connections do not count in the other.
async function measure(subscribers: number, topic: string): Promise<{ connections: number; perMessage: number; probesPerMessage: number; idlePerSecond: number; openPings: number }> {
  const relay = await startRelay({
    SOURCE: 'redis-list', REDIS_URL: redis.url, REDIS_BLOCK_MS: '500', PUBLISH_RATE_PER_MINUTE: '0', MAX_CONNECTIONS_PER_CLIENT: '1000',
    SHUTDOWN_DRAIN_MS: '0',
  });
  relays.push(relay);
  const pingsBefore = await pingCalls();
  const mine = Array.from({ length: subscribers }, () => new SseReader(`${relay.url}/events?topic=${topic}`));
  readers.push(...mine);
  await Promise.all(mine.map((r) => r.until((x) => x.status === 200 && x.retries.length > 0)));
  // Each open asks whether Redis answers; a PONG stands for a second, so a burst of opens shares a few PINGs.
  const openPings = (await pingCalls()) - pingsBefore;
  // Every subscriber's consumer has started (registered, blocking) once the connection count stops moving.
  const connections = await waitForSteady(relayConnections, 'count of the relay\'s Redis connections');
  const idleFrom = await totalCalls();
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idle = await callsSince(idleFrom);
  const idlePerSecond = (idle.work + idle.probe) / (IDLE_MS / 1000);
  const before = await totalCalls();
  for (let i = 0; i < MESSAGES; i++) {
    expect((await publish(relay.url, { topic, data: String(i) })).status).toBe(202);
    // Each message is delivered before the next is published: every message costs its own take, the worst case.
    await waitFor(() => delivered(mine) > i, `message ${i} delivered`);
  }
  const calls = await callsSince(before);
  const [perMessage, probesPerMessage] = [calls.work / MESSAGES, calls.probe / MESSAGES];
  const seen = mine.flatMap((r) => r.events.map((e) => Number(e.data)));
  expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
  mine.forEach((r) => r.close());
  await waitFor(async () => (await redisCli(redis.port, 'LLEN', `sse:q:${topic}`)) === '0', 'nothing left in the queue');
  await relay.stop();
  await waitFor(async () => (await relayConnections()) === 0, 'the relay\'s connections closed');
  return { connections, perMessage, probesPerMessage, idlePerSecond, openPings };
}

test('Redis connections and commands per delivered message do not depend on the number of subscribers', async () => {
  const few = await measure(10, 'list-few');
  const many = await measure(200, 'list-many');
  const line = (m: typeof few): string => `${m.connections} Redis connections, ${m.perMessage.toFixed(2)} commands per message `
    + `+ ${m.probesPerMessage.toFixed(2)} in batch probes, ${m.idlePerSecond} per idle second, ${m.openPings} PINGs while they opened`;
  console.log(`redis-list: 10 subscribers: ${line(few)}; 200 subscribers: ${line(many)}`);
  expect(many.connections).toBe(few.connections);
  // 200 streams opened at once: one PING per second of the burst, not one per stream.
  expect(many.openPings).toBeLessThan(20);
  expect(many.connections).toBeLessThanOrEqual(4);
  expect(many.perMessage).toBeLessThanOrEqual(few.perMessage + 0.5);
  expect(few.perMessage).toBeLessThan(5);
  for (const m of [few, many]) expect(m.probesPerMessage).toBeLessThanOrEqual(2);
  // A BLMOVE re-issued every 0.5 s and a heartbeat MULTI (4 calls) every 5 s, give or take one of each in the window.
  expect(many.idlePerSecond).toBeLessThanOrEqual(few.idlePerSecond + 3);
}, 90_000);
