import { afterAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { createPublisher, redisTransport, signToken, type Publisher } from '../../publisher/index.js';
import { launchChromium } from '../support/chromium.js';
import { clientReaches, clientState, readClientRecord, startClientPage } from '../support/client-page.js';
import { freePort } from '../support/nginx.js';
import { startRedis } from '../support/redis-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

// public/sse-client.js in headless Chromium, through a restart of the whole backend: the relay process is SIGKILLed
// (network errors: jittered backoff), Redis goes down too, the relay comes back first and answers 503
// source_unavailable with Retry-After (the client must wait that long), then Redis returns. Messages published while
// the page was away must all arrive, once, in order: Last-Event-ID is kept through every failure. The token travels in
// the sse_token cookie, written by the client on the relay's own origin.

const SECRET = 'browser-restart-test-secret-of-32-bytes+';
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

async function publishMany(publisher: Publisher, from: number, n: number, into: [string, string][]): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const { id } = await publisher.publish('jobs', `job ${i}`, { event: 'progress' });
    into.push([`jobs=${id}`, `job ${i}`]);
  }
}

test('a backend restart: network backoff, a 503 whose Retry-After is honoured, then every message once, in order', async () => {
  const redisServer = await startRedis();
  cleanups.push(() => redisServer.stop());
  const port = await freePort();
  const env = { SOURCE: 'redis', REDIS_URL: redisServer.url, PORT: String(port), AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, RETRY_MS: '300' };
  const relays: ServerProcess[] = [await startServerProcess(env)];
  cleanups.push(async () => Promise.all(relays.map((r) => r.kill('SIGKILL'))));
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => redis.disconnect());
  const publisher = createPublisher(redisTransport({ redis }));
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  const mint = async (): Promise<string> => signToken({ secret: SECRET, subscribe: ['jobs'], ttl: '10m' });
  await startClientPage(page, `http://127.0.0.1:${port}/healthz`, '/events', { topics: ['jobs'], tokenTransport: 'cookie' }, mint);
  await clientState(page, 'open', 10_000);

  const published: [string, string][] = [];
  await publishMany(publisher, 1, 10, published);
  await clientReaches(page, 10, 10_000);
  await relays[0]?.kill('SIGKILL');
  await clientState(page, 'backoff', 10_000);
  await publishMany(publisher, 11, 10, published); // while no relay runs
  redisServer.kill('SIGKILL');
  relays.push(await startServerProcess(env)); // Redis is still down: new streams get 503 with Retry-After
  await page.waitForFunction(() => (window as unknown as { record: { states: [string, number][] } }).record.states
    .some(([state, status]) => state === 'backoff' && status === 503), undefined, { timeout: 15_000 });
  await redisServer.restart();
  await publishMany(publisher, 21, 10, published);
  await clientReaches(page, published.length, 20_000);
  await new Promise((r) => setTimeout(r, 300)); // proving that nothing more arrives: a late duplicate would show up here

  const { events, states } = await readClientRecord(page);
  expect(events).toEqual(published);
  const refusal = states.findIndex(([state, status]) => state === 'backoff' && status === 503);
  const [, , code, refusedAt] = states[refusal] ?? [];
  const retriedAt = states.slice(refusal + 1).find(([state]) => state === 'connecting')?.[3] ?? NaN;
  expect(code).toBe('source_unavailable');
  // The relay said Retry-After: 5; the client came back no earlier.
  expect(retriedAt - (refusedAt ?? NaN)).toBeGreaterThanOrEqual(5_000 - 50);
  expect(states.some(([state, status]) => state === 'backoff' && status === 0)).toBe(true); // the network failures
  console.log(`browser restart: ${events.length} events, no gap, no duplicate; states ${states.map(([s, st]) => (st === 0 ? s : `${s}(${st})`)).join(' ')}`);
}, 60_000);
