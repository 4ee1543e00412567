import { afterAll, expect, test } from '@jest/globals';
import { publish, startRelay } from '../support/relay-server.js';
import { redisCli } from '../support/redis-cli.js';
import { startRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

// REDIS_URL pointing at a server the relay cannot use correctly (lib/sources/redis/misfit-server.ts).

// ioredis 6 only emits the error of the SELECT it sends for REDIS_URL's `/<db>` and goes on, ready, in database 0: a
// relay configured for database 99 (Redis has 16) answered /readyz 200 and POST /publish 202, and wrote its streams
// beside whatever else lives in database 0.
test('a REDIS_URL database Redis refuses is never used as database 0: /readyz, /events and POST /publish 503, nothing written', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const env = { SOURCE: 'redis', REDIS_BLOCK_MS: '1000', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0' };
  const valid = await startRelay({ ...env, REDIS_URL: `${redis.url}/3` });
  cleanups.push(() => valid.stop());
  const refused = await startRelay({ ...env, REDIS_URL: `${redis.url}/99` });
  cleanups.push(() => refused.stop());

  // The control: a database Redis has works, and its keys are there, not in database 0.
  await waitFor(async () => (await publish(valid.url, { topic: 'db', data: 'in 3' })).status === 202, 'a publish to database 3', { timeoutMs: 5_000, everyMs: 100 });
  expect(await redisCli(redis.port, '-n', 3, 'XLEN', 'sse:db')).toBe('1');

  const statuses: number[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    statuses.push((await publish(refused.url, { topic: 'db', data: 'in 99' })).status);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(statuses).toEqual([503, 503, 503, 503, 503]);
  expect((await fetch(`${refused.url}/readyz`)).status).toBe(503);
  const events = await fetch(`${refused.url}/events?topic=db`);
  expect(events.status).toBe(503);
  await events.body?.cancel();
  expect(await redisCli(redis.port, '-n', 0, 'DBSIZE')).toBe('0');
});

// A server in cluster mode refuses multi-key commands over several slots (CROSSSLOT) even when it holds every slot
// (ElastiCache Serverless, a cluster in "compatible" mode, a one-node cluster): with REDIS_URL pointing at one, /readyz
// answered 200 and plain publishes 202, while keyed publishes failed and a stream of two topics received nothing.
test('a REDIS_URL server in cluster mode is refused: /readyz, /events and POST /publish 503, nothing written', async () => {
  const redis = await startRedis({ extraArgs: ['--cluster-enabled', 'yes'] });
  cleanups.push(() => redis.stop());
  await redisCli(redis.port, 'CLUSTER', 'ADDSLOTSRANGE', 0, 16_383);
  await waitFor(async () => /cluster_state:ok/.test(await redisCli(redis.port, 'CLUSTER', 'INFO')), 'the one-node cluster to be ok', { timeoutMs: 10_000, everyMs: 100 });
  const relay = await startRelay({ SOURCE: 'redis', REDIS_URL: redis.url, REDIS_BLOCK_MS: '1000', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0' });
  cleanups.push(() => relay.stop());
  // The relay is connected (a cluster-mode Redis answers PING like any other) once a client of it shows in CLIENT LIST.
  await waitFor(async () => /name=sse-relay:command/.test(await redisCli(redis.port, 'CLIENT', 'LIST')), 'the relay to connect', { timeoutMs: 5_000, everyMs: 50 });
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    statuses.push((await publish(relay.url, { topic: 'cl', data: 'x' })).status, (await fetch(`${relay.url}/readyz`)).status);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(statuses).toEqual(Array.from({ length: 10 }, () => 503));
  const events = await fetch(`${relay.url}/events?topic=cl&topic=other`);
  expect(events.status).toBe(503);
  await events.body?.cancel();
  expect(await redisCli(redis.port, 'DBSIZE')).toBe('0');
});
