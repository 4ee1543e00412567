import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { SharedPing } from '../../lib/sources/redis/shared-ping.js';
import { redisCli } from '../support/redis-cli.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

// A burst of stream opens on a redis-list queue asks "does Redis answer?" once per open; the answer is shared.

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { retryStrategy: () => 200 });
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

const pings = async (): Promise<number> => Number(/^cmdstat_ping:calls=(\d+)/m.exec(await redisCli(redis.port, 'INFO', 'commandstats'))?.[1] ?? 0);

test('1,000 callers at once send one PING; a PONG stands for freshMs, then the next caller sends another', async () => {
  let now = 1_000_000;
  const ping = new SharedPing(client, 1_000, 1_000, () => now);
  await waitFor(() => client.status === 'ready', 'the client connected');
  const before = await pings();
  expect(await Promise.all(Array.from({ length: 1_000 }, () => ping.answers()))).toEqual(Array(1_000).fill(true));
  expect(await pings()).toBe(before + 1);
  now += 999;
  expect(await ping.answers()).toBe(true);
  expect(await pings()).toBe(before + 1);
  now += 1;
  expect(await ping.answers()).toBe(true);
  expect(await pings()).toBe(before + 2);
});

test('a dropped connection is not trusted on an earlier PONG: the next callers get false within the deadline', async () => {
  const ping = new SharedPing(client, 500, 60_000);
  expect(await ping.answers()).toBe(true);
  redis.kill('SIGKILL');
  await waitFor(() => client.status !== 'ready', 'the client saw the connection drop');
  expect(await Promise.all([ping.answers(), ping.answers()])).toEqual([false, false]);
  await redis.restart();
  await waitFor(() => ping.answers(), 'Redis answering again');
});
