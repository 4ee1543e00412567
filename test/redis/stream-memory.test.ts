import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { FIXED_SETTINGS } from '../../lib/config/index.js';
import { Redis } from 'ioredis';
import { RedisStreamSource } from '../../lib/sources/redis/stream.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { createPublisher, redisTransport } from '../../publisher/index.js';
import { publish, startRelay } from '../support/relay-server.js';
import { listItems } from '../support/list-items.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

// Redis that does not fill up: stream keys expire REDIS_STREAM_TTL_S after their last append, and a Redis at its
// maxmemory under noeviction makes publishes fail with their own code and metric, against a real redis-server.

let redis: TestRedis;
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});

afterAll(async () => {
  raw.disconnect();
  await redis.stop();
});

function source(streamTtlSeconds: number, onOutOfMemory?: () => void): RedisStreamSource {
  return new RedisStreamSource({ url: redis.url, keyPrefix: 'mem:', maxLen: 1_000, blockMs: 1_000, maxMessageBytes: 100_000, streamTtlSeconds, onOutOfMemory, idempotencyTtlSeconds: FIXED_SETTINGS.redisIdempotencyTtlSeconds });
}

describe('REDIS_STREAM_TTL_S', () => {
  test('an append (plain or with an idempotency key) sets the stream key TTL; 0 leaves it without one', async () => {
    const withTtl = source(3_600);
    const without = source(0);
    try {
      await withTtl.publish('ttl.plain', { data: 'a' });
      await withTtl.publish('ttl.keyed', { data: 'b', key: 'k1' });
      await without.publish('ttl.none', { data: 'c' });
      for (const key of ['mem:ttl.plain', 'mem:ttl.keyed']) {
        const ttl = await raw.ttl(key);
        expect([key, ttl > 3_500 && ttl <= 3_600]).toEqual([key, true]);
      }
      expect(await raw.ttl('mem:ttl.none')).toBe(-1);
    } finally {
      await withTtl.close();
      await without.close();
    }
  });

  // A stream written while REDIS_STREAM_TTL_S was set kept its expiry through every later XADD once the variable was 0
  // ("never"): seen on the built server, TTL 100 s then 0, appends went on and the key still expired 100 s later.
  test('REDIS_STREAM_TTL_S=0 after a TTL: the first append of each topic removes the expiry its stream kept (relay and producer library)', async () => {
    const topics = ['ttl.off.plain', 'ttl.off.keyed', 'ttl.off.library'];
    for (const topic of topics) {
      await raw.xadd(`mem:${topic}`, '*', 'data', 'written while REDIS_STREAM_TTL_S was 100');
      await raw.expire(`mem:${topic}`, 100);
    }
    const relay = await startRelay({ SOURCE: 'redis', REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'mem:', REDIS_STREAM_TTL_S: '0', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0' });
    const producer = createPublisher(redisTransport({ redis: raw, keyPrefix: 'mem:', streamTtlSeconds: 0 }));
    try {
      expect((await publish(relay.url, { topic: 'ttl.off.plain', data: 'a' })).status).toBe(202);
      expect((await publish(relay.url, { topic: 'ttl.off.keyed', data: 'b', id: 'k1' })).status).toBe(202);
      await producer.publish('ttl.off.library', 'c');
      for (const topic of topics) expect([topic, await raw.ttl(`mem:${topic}`)]).toEqual([topic, -1]);
    } finally {
      await relay.stop();
    }
  });

  test('a process renews a stream TTL at most once per tenth of it (one XADD per publish), and again when due', async () => {
    const publisher = source(3_600);
    const other = source(3_600);
    try {
      await publisher.publish('ttl.renew', { data: 'a' });
      await raw.expire('mem:ttl.renew', 100);
      await publisher.publish('ttl.renew', { data: 'within a tenth of the TTL: no EXPIRE' });
      expect(await raw.ttl('mem:ttl.renew')).toBeLessThanOrEqual(100);
      // Another process (its own renewal memory) renews on its first append.
      await other.publish('ttl.renew', { data: 'b' });
      expect(await raw.ttl('mem:ttl.renew')).toBeGreaterThan(3_500);
    } finally {
      await publisher.close();
      await other.close();
    }
  });

  test('a Redis that came back without its data: the first append after the reconnection sets the TTL again', async () => {
    // A restart without persistence, as the relay sees it: the keys are gone and its connection drops.
    const publisher = source(3_600);
    try {
      await publisher.publish('ttl.lost', { data: 'before' });
      expect(await raw.ttl('mem:ttl.lost')).toBeGreaterThan(3_500);
      await raw.flushall();
      await raw.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await waitFor(async () => {
        try {
          await publisher.publish('ttl.lost', { data: 'after' });
          return true;
        } catch {
          return false;
        }
      }, 'a publish after the reconnection', { timeoutMs: 10_000, everyMs: 100 });
      // A per-user topic may see no other publish: this key must expire by itself.
      expect(await raw.ttl('mem:ttl.lost')).toBeGreaterThan(3_500);
    } finally {
      await publisher.close();
    }
  });

  test('a stream nothing wrote to expires; a cursor into it then replays with a reset, never silently', async () => {
    const short = source(1);
    try {
      const first = await short.publish('ttl.quiet', { data: 'one' });
      await short.publish('ttl.quiet', { data: 'two' });
      await waitFor(async () => (await raw.exists('mem:ttl.quiet')) === 0, 'the stream key expiring', { timeoutMs: 5_000, everyMs: 50 });
      const now = `${Date.now() + 60_000}-0`;
      expect(await short.replay('ttl.quiet', first.position, now, 100)).toEqual({ messages: [], gap: true });
      expect(await short.replay('ttl.quiet', '0-0', now, 100)).toEqual({ messages: [], gap: false });
      expect(await short.head('ttl.quiet')).toBe('0-0');
    } finally {
      await short.close();
    }
  });
});

describe('a full Redis (maxmemory, noeviction)', () => {
  // A redis-list queue fills Redis as surely as streams do (items wait there until a stream takes them), so it must say
  // so the same way: before, its publish answered 503 source_unavailable, uncounted, and no memory gauge was exported.
  test.each(['redis', 'redis-list'])('SOURCE=%s: publish answers 503 source_full with Retry-After, counted in its own metric; memory use is exported', async (SOURCE) => {
    const relay = await startRelay({ SOURCE, REDIS_URL: redis.url, REDIS_KEY_PREFIX: `full-${SOURCE}:`, SHUTDOWN_DRAIN_MS: '200', MAX_MESSAGE_BYTES: '65536' });
    const payload = 'x'.repeat(60_000);
    const publish = (): Promise<Response> => fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'user.1', data: payload }) });
    try {
      expect((await publish()).status).toBe(202);
      const used = Number(/^used_memory:(\d+)/m.exec(await raw.info('memory'))?.[1]);
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      await raw.config('SET', 'maxmemory', String(used + 1_000_000));
      const statuses: number[] = [];
      let refused: Response | undefined;
      for (let i = 0; i < 100 && refused === undefined; i++) {
        const response = await publish();
        statuses.push(response.status);
        if (response.status !== 202) refused = response;
      }
      expect(refused?.status).toBe(503);
      expect(await refused?.json()).toMatchObject({ error: 'source_full' });
      expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 202).length).toBeGreaterThan(3);
      const text = await (await fetch(`${relay.url}/metrics`)).text();
      expect(text).toMatch(new RegExp(`^sse_redis_oom_errors_total\\{source="${SOURCE}"\\} 1$`, 'm'));
      expect(text).toMatch(/^sse_http_errors_total\{code="source_full",route="publish"\} 1$/m);
      expect(Number(/^sse_redis_used_memory_bytes (\d+)/m.exec(text)?.[1])).toBeGreaterThan(used);
      expect(/^sse_redis_maxmemory_bytes (\d+)/m.exec(text)?.[1]).toBe(String(used + 1_000_000));
      // The relay itself stays ready (reads still work); the full Redis shows in the metrics, not as an outage.
      expect((await fetch(`${relay.url}/readyz`)).status).toBe(200);
      await raw.config('SET', 'maxmemory', '0');
      expect((await publish()).status).toBe(202);
    } finally {
      await raw.config('SET', 'maxmemory', '0');
      await relay.stop();
      await raw.flushall();
    }
  });

  // Taking an item moves it (BLMOVE), and Redis refuses a move over maxmemory like any write that may grow memory: a
  // queue that filled Redis could then never be drained by its subscribers, the only thing that frees the memory.
  test.each(['auto', 'client'])('SOURCE=redis-list, QUEUE_ACK=%s: a queue that filled Redis is still delivered, and draining it frees Redis', async (QUEUE_ACK) => {
    const prefix = `drain-${QUEUE_ACK}:`;
    const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, QUEUE_ACK, SHUTDOWN_DRAIN_MS: '200', PUBLISH_RATE_PER_MINUTE: '0' });
    const publish = (i: number): Promise<Response> => fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'jobs', data: `${i} ${'x'.repeat(20_000)}` }) });
    let reader: SseReader | undefined;
    try {
      const used = Number(/^used_memory:(\d+)/m.exec(await raw.info('memory'))?.[1]);
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      await raw.config('SET', 'maxmemory', String(used + 1_000_000));
      let accepted = 0;
      while (accepted < 200 && (await publish(accepted)).status === 202) accepted += 1;
      expect((await publish(-1)).status).toBe(503);
      const seen = new Set<string>();
      const acks: Promise<Response>[] = [];
      const open = new SseReader(`${relay.url}/events?topic=jobs`);
      reader = open;
      await waitFor(() => {
        for (const event of open.events.slice(seen.size)) {
          seen.add(event.data.split(' ')[0] as string);
          if (QUEUE_ACK === 'client') acks.push(fetch(`${relay.url}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'jobs', ids: [event.id] }) }));
        }
        return seen.size === accepted;
      }, () => `all ${accepted} accepted items delivered from a full Redis (got ${seen.size})`, 20_000);
      expect((await Promise.all(acks)).every((response) => response.status === 200)).toBe(true);
      await waitFor(async () => (await listItems(raw, 'jobs', prefix)) === 0, 'the delivered items removed');
      expect((await publish(accepted)).status).toBe(202);
    } finally {
      reader?.close();
      await raw.config('SET', 'maxmemory', '0');
      await relay.stop();
      await raw.flushall();
    }
  }, 40_000);
});

describe('a Redis that evicts at maxmemory (a policy other than noeviction)', () => {
  // ElastiCache's and Memorystore's default maxmemory-policy is volatile-lru, and every stream key has a TTL
  // (REDIS_STREAM_TTL_S): a full Redis then drops whole streams and idempotency markers while every publish answers 202.
  // Seen from outside before: 600 publishes, 600 × 202, 237 keys evicted (a topic's only stream among them, and the
  // marker of a keyed publish, whose retry then appended a second copy), sse_redis_oom_errors_total 0, and nothing in
  // /metrics to tell it from a Redis merely full.
  test('the policy and the keys evicted are exported, so an operator can alert on them', async () => {
    const relay = await startRelay({ SOURCE: 'redis', REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'evict:', SHUTDOWN_DRAIN_MS: '200', MAX_MESSAGE_BYTES: '65536' });
    const gauge = (text: string, name: string): string | undefined => new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1];
    const scrape = async (): Promise<string> => (await fetch(`${relay.url}/metrics`)).text();
    try {
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      let text = await scrape();
      expect(gauge(text, 'sse_redis_may_evict')).toBe('0');
      const evictedBefore = Number(gauge(text, 'sse_redis_evicted_keys'));
      const used = Number(/^used_memory:(\d+)/m.exec(await raw.info('memory'))?.[1]);
      await raw.config('SET', 'maxmemory-policy', 'volatile-lru');
      await raw.config('SET', 'maxmemory', String(used + 1_000_000));
      expect(gauge(await scrape(), 'sse_redis_may_evict')).toBe('1');
      const payload = 'y'.repeat(5_000);
      for (let i = 0; i < 400; i++) {
        const response = await fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: `user.${i}`, data: payload }) });
        expect(response.status).toBe(202);
      }
      text = await scrape();
      expect(Number(gauge(text, 'sse_redis_evicted_keys'))).toBeGreaterThan(evictedBefore);
      expect(text).toMatch(/^sse_redis_oom_errors_total\{source="redis"\} 0$/m);
    } finally {
      await raw.config('SET', 'maxmemory', '0');
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      await relay.stop();
      await raw.flushall();
    }
  });
});
