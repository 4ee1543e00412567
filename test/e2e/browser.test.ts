import { afterAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { openDemoPage, readPageRecord } from '../support/demo-page.js';
import { startNginxSite } from '../support/nginx-site.js';
import { startRedis } from '../support/redis-server.js';
import { publish } from '../support/relay-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { startStreamPublisher, type PublishedRecord } from '../support/stream-publisher.js';
import { waitFor } from '../support/wait-for.js';

// The demo page in headless Chromium, loaded through nginx (nginx/sse-relay.conf), served by the real server process in
// Redis mode. Records go straight into the Redis stream at ~20/s; mid-stream the server is SIGKILLed and restarted on the
// same port a second later, while the records keep coming. The page must reconnect on its own and end up with exactly
// the published ids: none missing (the cursor resumed from Redis), none twice. Writing to Redis directly is what proves
// the relay holds no state of its own: records appended while no relay runs reach the page after the restart. The last
// few go through POST /publish on the restarted server, so its publish path and the SSE ids agree as well.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

const HOSTILE = '<img src=x onerror="window.__xss=1">';
const NAMES = ['Ada', 'Grace', 'Linus', 'Margaret', HOSTILE];

async function relay(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServerProcess({ SOURCE: 'redis', RETRY_MS: '500', HEARTBEAT_MS: '1000', ...env });
  cleanups.push(() => server.kill('SIGKILL'));
  return server;
}

/** Waits until the page holds `n` record ids, with what it has so far in the failure message. */
async function pageReaches(page: Page, n: number, timeoutMs: number): Promise<void> {
  await page.waitForFunction((count) => (window as unknown as { __ids: string[] }).__ids.length >= count, n, { timeout: timeoutMs })
    .catch(async (error: unknown) => {
      const { ids, states } = await readPageRecord(page);
      throw new Error(`the page has ${ids.length} of ${n} ids; states ${JSON.stringify(states)}`, { cause: error });
    });
}

/** The newest card must show the record it names in data-id; the hostile name must be text, never an element. */
async function checkRendering(page: Page, published: readonly PublishedRecord[]): Promise<void> {
  // Read in one go: cards keep arriving while the test looks.
  const newest = await page.evaluate(() => {
    const card = document.querySelector<HTMLElement>('#cards .card');
    return { id: card?.dataset.id, values: Array.from(card?.querySelectorAll('.value') ?? [], (v) => v.textContent) };
  });
  const record = published.find((r) => `demo=${r.id}` === newest.id);
  expect(record).toBeDefined();
  expect(newest.values.slice(0, 2)).toEqual([record?.name, String(record?.count)]);
  const hostile = page.locator('#cards .card', { hasText: HOSTILE });
  expect(await hostile.count()).toBeGreaterThan(0);
  expect(await page.locator('#cards img').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
}

/** A few more records through nginx and the restarted server's POST /publish: its ids are the stream's ids too. */
async function publishThrough(url: string, after: number, n: number): Promise<PublishedRecord[]> {
  const records: PublishedRecord[] = [];
  for (let count = after + 1; count <= after + n; count++) {
    const data = { name: 'Frances', count, timestamp: new Date().toISOString() };
    const response = await publish(url, { topic: 'demo', event: 'record', data });
    expect(response.status).toBe(202);
    records.push({ id: String(response.json.id), count, name: data.name });
  }
  return records;
}

test('the demo page through nginx survives a SIGKILLed server with no gap and no duplicate', async () => {
  const redisServer = await startRedis();
  cleanups.push(() => redisServer.stop());
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => redis.disconnect());
  const server = await relay({ REDIS_URL: redisServer.url });
  const nginx = await startNginxSite(server.port);
  cleanups.push(() => nginx.stop());
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  await openDemoPage(page, `http://127.0.0.1:${nginx.port}/`);

  const publisher = startStreamPublisher(redis, 'sse:demo', NAMES);
  cleanups.push(() => publisher.stop());
  await pageReaches(page, 20, 5_000);
  await checkRendering(page, publisher.published);

  const killedAt = Date.now();
  await server.kill('SIGKILL');
  const publishedBeforeKill = publisher.published.length;
  await waitFor(() => publisher.published.length >= publishedBeforeKill + 10, '10 records appended while no relay runs');
  // Same port: nginx's upstream does not change, as when a pod's container restarts in place.
  await relay({ REDIS_URL: redisServer.url, PORT: String(server.port) });
  const restartedAt = Date.now();
  await page.waitForFunction((since) => (window as unknown as { __states: [string, number][] }).__states
    .some(([state, at]) => state === 'open' && at > since), killedAt, { timeout: 15_000 });
  const { states } = await readPageRecord(page);
  const reopenedAt = states.find(([state, at]) => state === 'open' && at > killedAt)?.[1] ?? NaN;

  // Keep publishing a little on the new process, then let the page catch up with everything.
  const publishedAtReopen = publisher.published.length;
  await waitFor(() => publisher.published.length >= publishedAtReopen + 10, '10 records appended after the page reopened');
  await publisher.stop();
  const published = [...publisher.published, ...(await publishThrough(`http://127.0.0.1:${nginx.port}`, publisher.published.length, 3))];
  await pageReaches(page, published.length, 10_000);
  await new Promise((r) => setTimeout(r, 300)); // proving that nothing more arrives: a late duplicate would show up here

  const { ids } = await readPageRecord(page);
  expect(ids).toEqual(published.map((r) => `demo=${r.id}`));
  expect(await page.locator('#count').textContent()).toBe(String(published.length));
  expect(await page.locator('#last-id').textContent()).toBe(`demo=${published.at(-1)?.id}`);
  await checkRendering(page, published);
  // The connection really went down and came back (not a page that never noticed).
  expect(states.filter(([, at]) => at > killedAt).map(([state]) => state)).not.toEqual(['open']);
  console.log(`browser: ${ids.length} ids checked (no gap, no duplicate), ${published.length - publishedBeforeKill} ` +
    `published after the SIGKILL; page open again ${reopenedAt - killedAt} ms after the kill, ` +
    `${reopenedAt - restartedAt} ms after the restarted server listened; states after kill: ` +
    states.filter(([, at]) => at > killedAt).map(([state, at]) => `${state}@+${at - killedAt}`).join(' '));
}, 45_000);
