import { afterAll, expect, test } from '@jest/globals';
import { launchChromium, type RunningChromium } from '../support/chromium.js';
import { publish } from '../support/relay-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

// Chromium's own EventSource against the real server: a stream that carries no event before the server ends it must
// still resume exactly, because the server's id-only frame set the browser's lastEventId (WHATWG: an id with no data
// sets the last event ID and dispatches nothing).

let server: ServerProcess | undefined;
let browser: RunningChromium | undefined;
afterAll(async () => {
  await browser?.close();
  await server?.kill('SIGKILL');
});

interface QuietWindow {
  __got: string[];
  __errors: number;
  __source: EventSource;
}

test('a quiet stream ended by the server resumes in Chromium: what was published during the reconnect arrives', async () => {
  server = await startServerProcess({ MAX_SESSION_MS: '1000', RETRY_MS: '2500', HEARTBEAT_MS: '60000' });
  browser = await launchChromium();
  const page = await browser.context.newPage();
  await page.goto(`${server.url}/healthz`);
  await publish(server.url, { topic: 'quiet', data: 'before the stream: never sent to it' });
  await page.evaluate(() => {
    const w = window as unknown as QuietWindow;
    w.__got = [];
    w.__errors = 0;
    w.__source = new EventSource('/events?topic=quiet');
    w.__source.onmessage = (event) => w.__got.push(event.data as string);
    w.__source.onerror = () => (w.__errors += 1);
  });
  // The server ends the quiet stream after MAX_SESSION_MS; Chromium then waits its retry (1.25–3.75 s) to reconnect.
  await page.waitForFunction(() => (window as unknown as QuietWindow).__errors >= 1, undefined, { timeout: 10_000 });
  expect((await publish(server.url, { topic: 'quiet', data: 'published while away' })).status).toBe(202);
  await page.waitForFunction(() => (window as unknown as QuietWindow).__got.length >= 1, undefined, { timeout: 10_000 })
    .catch(() => undefined);
  const got = await page.evaluate(() => {
    const w = window as unknown as QuietWindow;
    w.__source.close();
    return w.__got;
  });
  expect(got).toEqual(['published while away']);
}, 40_000);
