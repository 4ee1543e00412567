import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { RunningServer } from '../../functions/server.js';
import { redisCli } from '../support/redis-cli.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

// Redis work per published message must not grow with subscribers: the relay reads each topic once per process and fans
// out in memory. Measured with INFO commandstats around 50 publishes, with 1 and then with 200 subscribers.

let redis: TestRedis;
let relay: RunningServer & { url: string };
const readers: SseReader[] = [];

beforeAll(async () => {
  redis = await startRedis();
  relay = await startRelay({ SOURCE: 'redis', REDIS_URL: redis.url, PUBLISH_RATE_PER_MINUTE: '0', MAX_CONNECTIONS_PER_CLIENT: '1000', SHUTDOWN_DRAIN_MS: '0' });
});

afterAll(async () => {
  readers.forEach((r) => r.close());
  await relay?.stop();
  await redis?.stop();
});

async function totalCalls(): Promise<number> {
  const stats = await redisCli(redis.port, 'INFO', 'commandstats');
  return [...stats.matchAll(/^cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/gm)].filter(([, name]) => !/^(info|client)/.test(name as string))
    .reduce((sum, [, , calls]) => sum + Number(calls), 0);
}

async function commandsPerMessage(subscribers: number, topic: string): Promise<number> {
  const mine = Array.from({ length: subscribers }, () => new SseReader(`${relay.url}/events?topic=${topic}`));
  readers.push(...mine);
  await Promise.all(mine.map((r) => r.until((x) => x.status === 200 && x.retries.length > 0)));
  // The subscription's own commands are done once the reader blocks again on the topic set that includes it.
  await waitFor(async () => /^blocked_clients:[1-9]/m.test(await redisCli(redis.port, 'INFO', 'clients')), 'the relay\'s reader blocked in XREAD');
  const before = await totalCalls();
  for (let i = 0; i < 50; i++) {
    expect((await publish(relay.url, { topic, data: String(i) })).status).toBe(202);
    // Waiting for delivery before the next publish makes every message cost its own read: the worst case.
    await Promise.all(mine.map((r) => r.until((x) => x.events.length > i)));
  }
  const perMessage = ((await totalCalls()) - before) / 50;
  mine.forEach((r) => r.close());
  return perMessage;
}

test('Redis commands per published message do not depend on the number of subscribers', async () => {
  const one = await commandsPerMessage(1, 'stats-one');
  const many = await commandsPerMessage(200, 'stats-many');
  console.log(`Redis commands per message (INFO commandstats): ${one.toFixed(2)} with 1 subscriber, ${many.toFixed(2)} with 200`);
  expect(many).toBeLessThanOrEqual(one + 0.5);
  expect(one).toBeLessThan(4);
}, 90_000); // 50 round trips through 200 streams each: 14 s here when quiet, over 30 s with the machine loaded
