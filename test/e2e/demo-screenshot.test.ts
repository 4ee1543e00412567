import { afterAll, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { launchChromium, type RunningChromium } from '../support/chromium.js';
import { openDemoPage } from '../support/demo-page.js';
import type { RunningNginx } from '../support/nginx.js';
import { startNginxSite } from '../support/nginx-site.js';
import { publish } from '../support/relay-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

// The demo page as `npm start` serves it (memory mode, DEMO=true), rendered by headless Chromium through nginx (nginx/sse-relay.conf), with
// hostile user data among the records. The screenshot goes to a temp folder removed afterwards; set SSE_RELAY_SCREENSHOT
// to a path to keep it and look at it. Screenshots are never committed.

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const HOSTILE = '<img src=x onerror="window.__xss=1">';

test('the demo page renders records and alerts as text, and a screenshot is written', async () => {
  const server: ServerProcess = await startServerProcess({ DEMO: 'true' });
  cleanups.push(() => server.kill('SIGKILL'));
  const nginx: RunningNginx = await startNginxSite(server.port);
  cleanups.push(() => nginx.stop());
  const browser: RunningChromium = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  await openDemoPage(page, `http://127.0.0.1:${nginx.port}/`);

  const names = ['Ada', HOSTILE, 'Grace', 'Radia'];
  for (const [i, name] of names.entries()) {
    await publish(server.url, { topic: 'demo', event: 'record', data: { name, count: 1000 + i, timestamp: '2025-01-01T12:00:00.000Z' } });
  }
  await publish(server.url, { topic: 'demo', event: 'system-alert', data: { level: 'warning', message: 'Disk 90% full on db-1' } });
  await page.waitForFunction((n) => document.querySelectorAll('#cards .card').length >= n, names.length, { timeout: 5_000 });
  await page.waitForSelector('#alerts .alert-warning', { timeout: 5_000 });

  const hostileCard = page.locator('#cards .card', { hasText: HOSTILE });
  await expect(hostileCard.count()).resolves.toBe(1);
  expect(await hostileCard.locator('.value').first().textContent()).toBe(HOSTILE);
  expect(await page.locator('#cards img').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  expect(await page.locator('#state').textContent()).toBe('open');
  expect(Number(await page.locator('#count').textContent())).toBeGreaterThanOrEqual(names.length + 1);

  // The footer's publish command works as shown, copied into a shell: it names this page's own address.
  const command = await page.locator('#publish-example').textContent({ timeout: 5_000 });
  expect(command).toContain(`http://127.0.0.1:${nginx.port}/publish`);
  const { stdout } = await promisify(execFile)('sh', ['-c', `${command ?? ''} -sS -w ' %{http_code}'`], { timeout: 10_000 });
  expect(stdout).toMatch(/^\{"id":"\d{13}-\d+"\} 202$/);
  await page.locator('#cards .card', { hasText: 'you' }).first().waitFor({ timeout: 5_000 });

  // Wait for the card animation to finish so the picture shows the settled page.
  await page.waitForTimeout(400);
  const keep = process.env.SSE_RELAY_SCREENSHOT;
  const path = keep ?? join(await mkdtemp(join(tmpdir(), 'sse-relay-shot-')), 'demo.png');
  if (keep === undefined) cleanups.push(() => rm(dirname(path), { recursive: true, force: true }));
  await page.screenshot({ path, fullPage: true });
  const png = await readFile(path);
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  expect(png.readUInt32BE(16)).toBe(1100); // the viewport width: the page does not overflow sideways
  console.log(keep === undefined ? 'demo page screenshot taken (set SSE_RELAY_SCREENSHOT=/path/demo.png to keep one)' : `demo page screenshot: ${path}`);
});

test('the page\'s ?topic= says why a topic cannot be read, and an empty one falls back to demo', async () => {
  const server: ServerProcess = await startServerProcess({ DEMO: 'true' });
  cleanups.push(() => server.kill('SIGKILL'));
  const browser: RunningChromium = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));

  // `?topic=` with nothing after it is no topic: the page shows the demo topic instead of "connecting" for ever.
  await page.goto(`${server.url}/?topic=`);
  await page.waitForSelector('#state[data-state="open"]', { timeout: 10_000 });
  expect(await page.locator('#topic').textContent()).toBe('demo');

  // A topic the relay refuses: the state names the relay's reason, so the reader knows what to change.
  await page.goto(`${server.url}/?topic=${encodeURIComponent('café')}`);
  await page.waitForSelector('#state[data-state="failed"]', { timeout: 10_000 });
  expect(await page.locator('#state').textContent()).toMatch(/^failed: .*topic/);
  expect(errors).toEqual([]);
});

test('with auth turned on (a secret set under npm start), the page says the relay wants a token instead of only "retrying"', async () => {
  const server: ServerProcess = await startServerProcess({ DEMO: 'true', AUTH_MODE: 'jwt', AUTH_JWT_SECRET: 'demo-page-test-secret-of-32-bytes-long!' });
  cleanups.push(() => server.kill('SIGKILL'));
  const browser: RunningChromium = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForSelector('#state[data-state="backoff"]', { timeout: 10_000 });
  expect(await page.locator('#state').textContent()).toMatch(/^retrying in [\d.]+ s: 401 unauthorized/);
});
