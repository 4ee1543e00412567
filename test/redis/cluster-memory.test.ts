import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { RunningServer } from '../../functions/server.js';
import { redisCli } from '../support/redis-cli.js';
import { startCluster, type TestCluster } from '../support/redis-cluster.js';
import { startRelay } from '../support/relay-server.js';

// The Redis memory gauges of a relay on a Redis Cluster: each primary fills up on its own, so the gauges must describe
// the fullest one, whichever node a scrape's INFO would otherwise have reached (ioredis sends a keyless command to a
// random node: each scrape showed another primary's figures).

let cluster: TestCluster;
let relay: RunningServer & { url: string };

beforeAll(async () => {
  cluster = await startCluster();
  relay = await startRelay({ SOURCE: 'redis', REDIS_CLUSTER_NODES: cluster.nodes, PUBLISH_RATE_PER_MINUTE: '0' });
}, 60_000);

afterAll(async () => {
  await relay?.stop();
  await cluster?.stop();
});

const gauge = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

test('the memory gauges are those of the fullest primary at every scrape; eviction is reported when any primary may evict', async () => {
  // Slots 0, 6000 and 12000 lie in the three primaries' ranges of a fresh `redis-cli --cluster create`.
  const primaries = [...new Set(await Promise.all([0, 6000, 12000].map((slot) => cluster.ownerOf(slot))))];
  expect(primaries).toHaveLength(3);
  const [full, ...roomy] = primaries as [number, ...number[]];
  for (const port of roomy) {
    await redisCli(port, 'CONFIG', 'SET', 'maxmemory', '1gb');
    await redisCli(port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  }
  // One primary close to its limit, and one that drops keys there (ElastiCache's default volatile-lru).
  const used = Number(/^used_memory:(\d+)/m.exec(await redisCli(full, 'INFO', 'memory'))?.[1]);
  const limit = used + 2_000_000;
  await redisCli(full, 'CONFIG', 'SET', 'maxmemory', String(limit));
  await redisCli(full, 'CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru');
  for (let scrape = 0; scrape < 8; scrape++) {
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    expect(gauge(text, 'sse_redis_maxmemory_bytes')).toBe(limit);
    expect(gauge(text, 'sse_redis_used_memory_bytes')).toBeGreaterThan(used / 2);
    expect(gauge(text, 'sse_redis_used_memory_bytes')).toBeLessThan(limit);
    expect(gauge(text, 'sse_redis_may_evict')).toBe(1);
    expect(gauge(text, 'sse_redis_evicted_keys')).toBe(0);
  }
}, 60_000);
