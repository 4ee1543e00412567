import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { launchChromium, type RunningChromium } from '../support/chromium.js';
import { listItems } from '../support/list-items.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

// RelayClient with `ack: true` in headless Chromium against SOURCE=redis-list, QUEUE_ACK=client, QUEUE_PREFETCH=2: the
// stream can only get past two messages if the browser acknowledges them after its handler ran.
let redis: TestRedis;
let raw: Redis;
let relay: Awaited<ReturnType<typeof startRelay>>;
let browser: RunningChromium;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: redis.url, QUEUE_ACK: 'client', QUEUE_PREFETCH: '2', PUBLISH_RATE_PER_MINUTE: '0' });
  browser = await launchChromium();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  raw?.disconnect();
  await redis?.stop();
});

test('RelayClient acknowledges each event after its handler returns; one whose handler throws comes back', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${relay.url}/sse-client.js`);
  await page.evaluate(async (clientPath) => {
    const { RelayClient } = await import(clientPath);
    const got: unknown[] = [];
    let failedOnce = false;
    Object.assign(window, { __got: got });
    const client = new RelayClient('/events', { topics: ['jobs'], ack: true });
    client.on('job', (data: { n: number }) => {
      got.push(data.n);
      // The first delivery of job 3 fails in the app: it must not be acknowledged.
      if (data.n === 3 && !failedOnce) {
        failedOnce = true;
        throw new Error('handler failed');
      }
    });
  }, '/sse-client.js');
  for (let n = 0; n < 6; n++) expect((await publish(relay.url, { topic: 'jobs', event: 'job', data: { n } })).status).toBe(202);
  const got = async (): Promise<number[]> => page.evaluate(() => (window as unknown as { __got: number[] }).__got);
  // Five are acknowledged and removed; job 3 stays held (one of the two slots) until its timeout or the stream's end.
  await waitFor(async () => (await got()).length === 6 && (await listItems(raw, 'jobs')) === 1, 'five acknowledged, job 3 held', { timeoutMs: 15_000, everyMs: 100 });
  expect(await got()).toEqual([0, 1, 2, 3, 4, 5]);
  await page.close();
  // The page is gone: its stream ended, and job 3 is back in the queue for the next subscriber.
  await waitFor(async () => (await raw.llen('sse:q:jobs')) === 1, 'job 3 released when the page closed', { timeoutMs: 10_000, everyMs: 100 });
  expect(JSON.parse((await raw.lindex('sse:q:jobs', 0)) as string).data).toBe('{"n":3}');
}, 40_000);
