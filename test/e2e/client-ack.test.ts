import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { createPublisher, httpTransport, signToken } from '../../publisher/index.js';
import { launchChromium, type RunningChromium } from '../support/chromium.js';
import { listItems } from '../support/list-items.js';
import { freePort } from '../support/nginx.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startLocalSqs } from '../sqs/fauxqs.js';
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

test('SQS, cross-origin, tokens expiring every 3 s: every message handled, the queue empty, every acknowledgement accepted', async () => {
  // The stream ends at each token's expiry, so the events of its last moments are acknowledged with an expired token:
  // each such 401 must be followed by the same acknowledgement with a fresh token (before: dropped, a duplicate each).
  const secret = 'client-ack-e2e-secret-of-32-bytes-long!';
  const sqs = await startLocalSqs();
  const queueUrl = sqs.createQueue('jobs');
  const port = await freePort();
  const sqsRelay = await startRelay({
    ...sqs.env(queueUrl, { SQS_WAIT_SECONDS: '1' }), AUTH_MODE: 'jwt', AUTH_JWT_SECRET: secret, PORT: String(port),
    CORS_ORIGINS: `http://localhost:${port}`, QUEUE_ACK: 'client', RETRY_MS: '300', PUBLISH_RATE_PER_MINUTE: '0',
  });
  const page = await browser.context.newPage();
  try {
    await page.exposeFunction('mintToken', () => signToken({ secret, subscribe: ['jobs'], ttl: 3 }));
    await page.goto(`http://localhost:${port}/healthz`);
    await page.evaluate(async (eventsUrl) => {
      const { RelayClient } = await import(`${new URL(eventsUrl).origin}/sse-client.js` as string);
      const w = window as unknown as Record<string, unknown> & { mintToken: () => Promise<string> };
      const record = { got: [] as number[], acks: [] as [string, number][] };
      w.record = record;
      new RelayClient(eventsUrl, {
        topics: ['jobs'], ack: true, retryMs: 300, token: () => w.mintToken(),
        fetch: async (url: URL, init: RequestInit) => {
          const response = await fetch(url, init);
          if (url.pathname === '/ack') record.acks.push([JSON.parse(String(init.body)).ids[0], response.status]);
          return response;
        },
      }).on('job', async (data: { n: number }) => {
        record.got.push(data.n);
        await new Promise((resolve) => setTimeout(resolve, 30)); // the app's work: the acknowledgement follows it
      });
    }, `${sqsRelay.url}/events`);
    const publisher = createPublisher(httpTransport({ url: sqsRelay.url, token: await signToken({ secret, publish: ['jobs'], ttl: '10m' }) }));
    for (let n = 0; n < 200; n++) {
      await publisher.publish('jobs', { n }, { event: 'job' });
      await new Promise((resolve) => setTimeout(resolve, 40)); // 25 messages/s for 8 s: two or three token expiries
    }
    const inQueue = async (): Promise<number> => {
      const { Attributes: a = {} } = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
    };
    const record = async (): Promise<{ got: number[]; acks: [string, number][] }> => page.evaluate(() => (window as unknown as { record: { got: number[]; acks: [string, number][] } }).record);
    await waitFor(async () => new Set((await record()).got).size === 200 && (await inQueue()) === 0, 'all 200 handled and the queue empty', { timeoutMs: 30_000, everyMs: 200 });
    const { got, acks } = await record();
    expect([...new Set(got)].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_v, n) => n));
    // Cross-origin POST /ack with the Authorization header passed CORS; each refused one was sent again and accepted.
    expect(acks.every(([, status]) => status === 200 || status === 401)).toBe(true);
    const accepted = new Set(acks.filter(([, status]) => status === 200).map(([id]) => id));
    expect(acks.filter(([id, status]) => status === 401 && !accepted.has(id))).toEqual([]);
    console.log(`SQS client ack in Chromium with 3 s tokens: ${got.length} deliveries of 200 messages, ${acks.filter(([, s]) => s === 401).length} acknowledgements refused and renewed`);
  } finally {
    await page.close();
    await sqsRelay.stop();
    await sqs.stop();
  }
}, 60_000);
