import { afterAll, expect, test } from '@jest/globals';
import { SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { createPublisher, httpTransport, signToken } from '../../publisher/index.js';
import { launchChromium, type RunningChromium } from '../support/chromium.js';
import { clientReaches, clientState, readClientRecord, startClientPage } from '../support/client-page.js';
import { freePort } from '../support/nginx.js';
import { startRelay } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';

// public/sse-client.js in headless Chromium against the real server with auth on: tokens that expire while a minute
// of messages flows, a 401 from a stale token, a revoked topic (403). The page runs on another origin than the relay
// (localhost vs 127.0.0.1), so CORS and the preflight of the Authorization header are real too.

const SECRET = 'browser-client-test-secret-of-32-bytes+';
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

let chromium: RunningChromium | undefined;
async function newPage(): Promise<Page> {
  if (chromium === undefined) {
    const launched = await launchChromium();
    chromium = launched;
    cleanups.push(() => launched.close());
  }
  return chromium.context.newPage();
}

async function authRelay(env: Record<string, string> = {}): Promise<{ url: string; port: number }> {
  const port = await freePort();
  const relay = await startRelay({
    AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, PORT: String(port), CORS_ORIGINS: `http://localhost:${port}`, RETRY_MS: '500',
    PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '200', ...env,
  });
  cleanups.push(() => relay.stop());
  return { url: relay.url, port };
}

/** A token that expired 30 s ago (beyond the relay's 5 s clock tolerance), as a stale cache would hand out. */
async function expiredToken(topics: string[]): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sse: { subscribe: topics } }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now - 90).setExpirationTime(now - 30)
    .sign(new TextEncoder().encode(SECRET));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('tokens expiring every 5 s through ten streams of publishing: no gap, no duplicate, a fresh token at each renewal', async () => {
  const relay = await authRelay();
  const page = await newPage();
  const reasons: string[] = [];
  const mint = async (reason: string): Promise<string> => {
    reasons.push(reason);
    // The fourth renewal gets a stale token: the client must hear 401, ask again at once, and lose nothing.
    if (reasons.filter((r) => r === 'reconnect').length === 4 && reason === 'reconnect') return expiredToken(['ticks']);
    return signToken({ secret: SECRET, subscribe: ['ticks'], ttl: 5 });
  };
  await startClientPage(page, `http://localhost:${relay.port}/healthz`, `${relay.url}/events`, { topics: ['ticks'], tokenTransport: 'header' }, mint);
  await clientState(page, 'open', 10_000);

  const publisher = createPublisher(httpTransport({ url: relay.url, token: await signToken({ secret: SECRET, publish: ['ticks'], ttl: '10m' }) }));
  const published: [string, string][] = [];
  let publishing = true;
  const publishes = (async () => {
    for (let n = 1; publishing; n++) {
      const { id } = await publisher.publish('ticks', `tick ${n}`);
      published.push([`ticks=${id}`, `tick ${n}`]);
      await sleep(100); // a publish rate (about 10/s), not a wait
    }
  })();
  const opened = async (): Promise<number> => (await readClientRecord(page)).states.filter(([state]) => state === 'open').length;
  await waitFor(async () => (await opened()) >= 10, '10 streams opened, one per token renewal', { timeoutMs: 80_000, everyMs: 500 })
    .finally(() => (publishing = false));
  await publishes;
  await clientReaches(page, published.length, 15_000);
  await sleep(300); // proving that nothing more arrives: a duplicate arriving late would show up here
  const { events, states } = await readClientRecord(page);

  expect(events).toEqual(published);
  const opens = states.filter(([state]) => state === 'open').length;
  const connects = states.filter(([state]) => state === 'connecting');
  // Every expiry ended the stream and a new one opened, each with a token asked for just before it. A token lives 4–5 s
  // (exp is in whole seconds) and a reconnect waits the server's jittered retry (0.25–0.75 s): publishing went on for 10.
  expect(opens).toBeGreaterThanOrEqual(10);
  expect(reasons).toHaveLength(connects.length);
  expect(reasons.filter((r) => r === 'unauthorized')).toHaveLength(1);
  expect(connects.filter(([, status]) => status === 401)).toHaveLength(1);
  expect(states.some(([state]) => state === 'backoff' || state === 'failed' || state === 'forbidden')).toBe(false);
  console.log(`browser client: ${events.length} events over 60 s, ${opens} streams, ${reasons.length} tokens asked ` +
    `(${reasons.filter((r) => r === 'unauthorized').length} after a 401), no gap, no duplicate`);
}, 100_000);

test('a revoked topic: 403 → state forbidden and one forbidden event, no further request', async () => {
  const relay = await authRelay();
  const page = await newPage();
  const reasons: string[] = [];
  const mint = async (reason: string): Promise<string> => {
    reasons.push(reason);
    return signToken({ secret: SECRET, subscribe: reasons.length === 1 ? ['ticks'] : ['other'], ttl: 2 });
  };
  const requests: string[] = [];
  page.on('request', (request) => void (request.url().includes('/events') && requests.push(request.method())));
  // Query transport: the token rides in access_token, a simple request with no preflight.
  await startClientPage(page, `http://localhost:${relay.port}/healthz`, `${relay.url}/events`, { topics: ['ticks'], tokenTransport: 'query' }, mint);
  await clientState(page, 'forbidden', 15_000);
  const atForbidden = requests.length;
  // Proving that nothing happens: a retry loop would show more requests within the client's first two backoffs (1 s
  // and 2 s at the default baseDelayMs) or the server's retry (0.25-0.75 s).
  await sleep(3_000);
  const { states, forbidden } = await readClientRecord(page);
  expect(forbidden).toBe(1);
  expect(requests.length).toBe(atForbidden);
  expect(requests).toEqual(['GET', 'GET']);
  expect(reasons).toEqual(['connect', 'reconnect']);
  expect(states.at(-1)?.slice(0, 3)).toEqual(['forbidden', 403, 'forbidden']);
});

test('a token that stays bad: one immediate retry with a fresh token, then backoff, still asking for a fresh one (no tight loop)', async () => {
  const relay = await authRelay();
  const page = await newPage();
  const reasons: string[] = [];
  const mint = async (reason: string): Promise<string> => (reasons.push(reason), expiredToken(['ticks']));
  await startClientPage(page, `http://localhost:${relay.port}/healthz`, `${relay.url}/events`, { topics: ['ticks'], tokenTransport: 'header' }, mint);
  await page.waitForFunction(() => (window as unknown as { record: { states: [string, number][] } }).record.states
    .filter(([state, status]) => state === 'backoff' && status === 401).length >= 2, undefined, { timeout: 10_000 });
  await page.evaluate(() => (window as unknown as { client: { close(): void } }).client.close());
  const { states } = await readClientRecord(page);
  // After a 401 the provider is told so on every attempt until a stream opens (a caching provider must refresh).
  expect(reasons.slice(0, 3)).toEqual(['connect', 'unauthorized', 'unauthorized']);
  // One immediate retry (the `connecting` that follows a 401 at once); every later attempt waits out a backoff first.
  expect(states.filter(([state, status]) => state === 'connecting' && status === 401)).toHaveLength(1);
  expect(states.filter(([state]) => state === 'backoff').every(([, status, code]) => status === 401 && code === 'unauthorized')).toBe(true);
});

test('back online after a network failure: the client reconnects at once instead of waiting out its backoff', async () => {
  // Streams end every 1.5 s, so the one open when the browser goes offline is followed by a reconnect that fails.
  const relay = await authRelay({ MAX_SESSION_MS: '1500' });
  const page = await newPage();
  const mint = async (): Promise<string> => signToken({ secret: SECRET, subscribe: ['ticks'], ttl: '10m' });
  // A first backoff of a minute or more: only the browser's `online` event can bring the client back within the test.
  await startClientPage(page, `http://localhost:${relay.port}/healthz`, `${relay.url}/events`, { topics: ['ticks'], tokenTransport: 'header', baseDelayMs: 120_000, maxDelayMs: 120_000 }, mint);
  await clientState(page, 'open', 10_000);
  await page.context().setOffline(true);
  await clientState(page, 'backoff', 10_000);
  await page.context().setOffline(false);
  await clientState(page, 'open', 10_000);
  const { states } = await readClientRecord(page);
  expect(states.map(([state]) => state)).toContain('backoff');
});
