import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { FIXED_SETTINGS } from '../../lib/config/index.js';
import { Redis } from 'ioredis';
import type { Delivery } from '../../lib/source.js';
import { RedisListSource } from '../../lib/sources/redis/list.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { startServerProcess } from '../support/server-process.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

// The redis-list recovery cases that could strand an item: a consumer paused past its TTL and then killed, a BLMOVE
// whose reply was lost, and a clean SIGTERM while streams hold items.
const TTL_MS = 1_000;
let redis: TestRedis;
let raw: Redis;
const sources: RedisListSource[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  await Promise.all(sources.map((s) => s.close()));
  raw?.disconnect();
  await redis?.stop();
});

function makeSource(url = redis.url): RedisListSource {
  const source = new RedisListSource({ url, keyPrefix: 'sse:', blockMs: 1_000, maxMessageBytes: 1_000, consumerTtlMs: TTL_MS, idempotencyTtlSeconds: FIXED_SETTINGS.redisIdempotencyTtlSeconds });
  sources.push(source);
  return source;
}

const item = (data: string): string => JSON.stringify({ data });

test('a consumer paused past its TTL, recovered, resumed and then killed strands nothing', async () => {
  await raw.lpush('sse:q:paused', item('first'));
  const fixture = fileURLToPath(new URL('./fixtures/list-consumer.mjs', import.meta.url));
  const child = spawn(process.execPath, [fixture, redis.url, 'paused', String(TTL_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let taken = '';
  child.stdout?.on('data', (chunk: Buffer) => (taken += chunk.toString()));
  await waitFor(() => taken.includes('first'), 'the child took the first item');
  const [processing] = await raw.keys('sse:q:paused#processing:*');
  const consumerId = (processing as string).split('#processing:')[1] as string;

  process.kill(child.pid as number, 'SIGSTOP');
  await waitFor(async () => (await raw.exists(`sse:q#consumer:${consumerId}`)) === 0, 'the paused consumer\'s heartbeat expired', 5_000);
  const rescuer = makeSource();
  expect(await rescuer.recover()).toBe(1);
  expect(await raw.sismember('sse:q#processing', processing as string)).toBe(0);

  process.kill(child.pid as number, 'SIGCONT');
  await raw.lpush('sse:q:paused', item('second'));
  await waitFor(() => taken.includes('second'), 'the resumed child took the second item');
  await waitFor(async () => (await raw.sismember('sse:q#processing', processing as string)) === 1, 'the resumed consumer registered again', 3_000);
  process.kill(child.pid as number, 'SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));

  await waitFor(async () => (await raw.exists(`sse:q#consumer:${consumerId}`)) === 0, 'the killed consumer\'s heartbeat expired', 5_000);
  // 'first' may have been taken again by a BLMOVE still blocked in Redis while the child was stopped: at least once.
  expect(await rescuer.recover()).toBeGreaterThanOrEqual(1);
  expect(await raw.keys('sse:q:paused#processing:*')).toEqual([]);
  expect((await raw.lrange('sse:q:paused', 0, -1)).map((i) => JSON.parse(i).data)).toContain('second');
}, 30_000);

/**
 * A TCP proxy to Redis that, once armed, swallows the next reply sent to a blocking connection and then drops that
 * connection: the BLMOVE happened in Redis, but the consumer never heard of it.
 */
async function startReplyLosingProxy(port: number): Promise<{ url: string; arm(): void; server: Server }> {
  let armed = false;
  const server = createServer((client: Socket) => {
    const upstream = connect(port, '127.0.0.1');
    let blocking = false;
    client.on('data', (chunk) => {
      if (chunk.includes('sse-relay:blocking')) blocking = true;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (blocking && armed && chunk.includes('"data"')) {
        armed = false;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const close = (): void => void (client.destroy(), upstream.destroy());
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `redis://127.0.0.1:${proxyPort}`, arm: () => void (armed = true), server };
}

test('an item moved by a BLMOVE whose reply was lost is delivered while the stream goes on', async () => {
  const proxy = await startReplyLosingProxy(redis.port);
  const source = makeSource(proxy.url);
  const stop = new AbortController();
  const got: Delivery[] = [];
  const running = (async () => {
    for await (const delivery of source.consume(['lost'], stop.signal)) {
      got.push(delivery);
      await delivery.ack();
    }
  })();
  await waitFor(async () => (await raw.scard('sse:q#processing')) > 0 && String(await raw.client('LIST')).includes('sse-relay:blocking'), 'the consumer is blocked in BLMOVE');
  proxy.arm();
  await raw.lpush('sse:q:lost', item('moved but unheard'));
  await waitFor(async () => (await raw.llen('sse:q:lost')) === 0, 'BLMOVE moved the item');
  await waitFor(() => got.length === 1, 'the item delivered without the stream ending', 10_000);
  expect(got[0]?.data).toBe('moved but unheard');
  await raw.lpush('sse:q:lost', item('next'));
  await waitFor(() => got.length === 2, 'the stream goes on');
  stop.abort();
  await running;
  expect(await raw.keys('sse:q:lost#processing:*')).toEqual([]);
  proxy.server.close();
}, 30_000);

test('SIGTERM while streams hold items: everything is back in its queue when the process has exited', async () => {
  for (let i = 0; i < 4; i++) await raw.lpush('sse:q:held', item(`h${i}`));
  const server = await startServerProcess({
    SOURCE: 'redis-list', REDIS_URL: redis.url, QUEUE_ACK: 'client', QUEUE_PREFETCH: '2', SHUTDOWN_DRAIN_MS: '1000',
  });
  const readers = [new SseReader(`${server.url}/events?topic=held`), new SseReader(`${server.url}/events?topic=held`)];
  await waitFor(() => readers.reduce((n, r) => n + r.events.length, 0) === 4, 'both streams hold two unacknowledged items');
  expect(await raw.llen('sse:q:held')).toBe(0);
  await server.kill('SIGTERM');
  expect(await server.exited).toBe(0);
  expect(await raw.keys('sse:q:held#processing:*')).toEqual([]);
  expect((await raw.lrange('sse:q:held', 0, -1)).map((i) => JSON.parse(i).data).sort()).toEqual(['h0', 'h1', 'h2', 'h3']);
  for (const reader of readers) reader.close();
}, 30_000);
