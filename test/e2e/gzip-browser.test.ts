import { afterAll, expect, test } from '@jest/globals';
import { launchChromium, type RunningChromium } from '../support/chromium.js';
import { publish } from '../support/relay-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { SseReader } from '../support/sse-reader.js';

// Chromium's own EventSource (which always asks for gzip) against the real server with COMPRESSION=gzip: the stream
// arrives gzip-encoded and yields exactly the events, types and ids that an uncompressed reader of the same topics gets.

let server: ServerProcess | undefined;
let browser: RunningChromium | undefined;
afterAll(async () => {
  await browser?.close();
  await server?.kill('SIGKILL');
});

interface GzipWindow {
  __got: string[][];
  __source: EventSource;
}

const PATH = '/events?topic=g1&topic=g2';

test('Chromium decodes the gzip stream to the same events as an uncompressed reader', async () => {
  server = await startServerProcess({ COMPRESSION: 'gzip', HEARTBEAT_MS: '60000', MAX_MESSAGE_BYTES: '262144', MAX_BODY_BYTES: '524288' });
  browser = await launchChromium();
  const page = await browser.context.newPage();
  const encodings: (string | undefined)[] = [];
  page.on('response', (response) => {
    if (response.url().includes('/events')) encodings.push(response.headers()['content-encoding']);
  });
  await page.goto(`${server.url}/healthz`);
  await page.evaluate((path) => {
    const w = window as unknown as GzipWindow;
    w.__got = [];
    w.__source = new EventSource(path);
    const record = (event: MessageEvent): void => void w.__got.push([event.type, event.data as string, event.lastEventId]);
    w.__source.onmessage = record;
    w.__source.addEventListener('other', record);
  }, PATH);
  await page.waitForFunction(() => (window as unknown as GzipWindow).__source.readyState === 1, undefined, { timeout: 10_000 });
  const plain = new SseReader(`${server.url}${PATH}`, { 'accept-encoding': 'identity' });
  await plain.until((r) => r.retries.length > 0);

  const payloads = ['first', 'two\nlines', 'ünïcødé ✓', 'z'.repeat(100_000), JSON.stringify({ list: Array.from({ length: 300 }, (_, i) => i) })];
  let published = 0;
  for (let round = 0; round < 4; round++) {
    await Promise.all(payloads.flatMap((data, i) => ['g1', 'g2'].map((topic) => {
      published += 1;
      return publish((server as ServerProcess).url, { topic, data: `${round} ${data}`, ...(i % 2 === 1 ? { event: 'other' } : {}) });
    })));
  }
  await page.waitForFunction((n) => (window as unknown as GzipWindow).__got.length >= n, published, { timeout: 20_000 });
  await plain.until((r) => r.events.length >= published, 20_000);
  const seen = await page.evaluate(() => {
    const w = window as unknown as GzipWindow;
    w.__source.close();
    return w.__got;
  });
  plain.close();
  expect(plain.headers.get('content-encoding')).toBeNull();
  expect(encodings).toEqual(['gzip']);
  expect(seen).toEqual(plain.events.map((e) => [e.event ?? 'message', e.data, e.id]));
  expect(seen).toHaveLength(published);
}, 60_000);
