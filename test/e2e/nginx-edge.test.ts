import { afterEach, describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { EventSource } from 'eventsource';
import { join } from 'node:path';
import { launchChromium } from '../support/chromium.js';
import { freePort, startNginx } from '../support/nginx.js';
import { startNginxSite } from '../support/nginx-site.js';
import { publish, startRelay } from '../support/relay-server.js';
import { hsToken, startSecureRelay } from '../security/support.js';
import { waitFor } from '../support/wait-for.js';

// The shipped whole-site nginx config in front of the real relay: /metrics cannot be reached in any spelling, the access
// log never holds a query string, and its TLS + HTTP/2 listener lets one page hold ten EventSources (HTTP/1.1 stops
// at six per origin).

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function site(): Promise<{ relayUrl: string; nginx: Awaited<ReturnType<typeof startNginxSite>> }> {
  // No METRICS_PORT: the relay itself serves /metrics on the port nginx proxies to, so only nginx stands in the way.
  const relay = await startRelay({ SHUTDOWN_DRAIN_MS: '200' });
  cleanups.push(() => relay.stop());
  const nginx = await startNginxSite(relay.port);
  cleanups.push(() => nginx.stop());
  return { relayUrl: relay.url, nginx };
}

/** Sends one raw HTTP/1.1 request line (no client-side normalisation) and returns status and body. */
function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
    socket.once('end', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), body: text.split('\r\n\r\n').slice(1).join('\r\n\r\n') }));
    socket.once('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to GET ${target} within 5 s`)));
  });
}

test('no spelling of /metrics passes nginx, while the public routes do', async () => {
  const { relayUrl, nginx } = await site();
  // The control: straight to the relay, /metrics answers (so a leak through nginx would show).
  expect(await (await fetch(`${relayUrl}/metrics`)).text()).toContain('sse_connections_open');
  const variants = ['/metrics', '//metrics', '/./metrics', '/%2Fmetrics', '/%2fmetrics', '/%6Detrics', '/%6detrics', '/METRICS', '/Metrics',
    '/metrics/', '/metrics?x=1', '/foo/../metrics', '/%2e/metrics', '/events/../metrics', '///metrics', '/metrics%00', '/metrics;x',
    // Backslashes: nginx on Linux keeps them, the relay's URL parser read them as `/` (`/\x/metrics` was host x, path /metrics).
    '/\\x/metrics', '/\\/x/metrics', '/events\\..\\metrics', '/%5Cx/metrics'];
  for (const target of variants) {
    const { status, body } = await rawGet(nginx.port, target);
    expect([target, status === 200, body.includes('sse_connections_open')]).toEqual([target, false, false]);
  }
  for (const [target, status] of [['/', 200], ['/sse-client.js', 200], ['/demo.js', 200], ['/demo.css', 200], ['/healthz', 200], ['/readyz', 200]] as const) {
    expect([target, (await rawGet(nginx.port, target)).status]).toEqual([target, status]);
  }
});

test('the access log records paths without their query strings (no access_token)', async () => {
  const { nginx } = await site();
  const secret = 'eyJhbGciOiJIUzI1NiJ9.secret-token-value.sig';
  const controller = new AbortController();
  const response = await fetch(`http://127.0.0.1:${nginx.port}/events?topic=logs&access_token=${secret}`, { signal: controller.signal });
  expect(response.status).toBe(200);
  controller.abort();
  expect((await rawGet(nginx.port, `/demo.js?access_token=${secret}`)).status).toBe(200);
  expect((await rawGet(nginx.port, `/nope?access_token=${secret}`)).status).toBe(404);
  let log = '';
  await waitFor(async () => /GET \/events /.test((log = await readFile(nginx.accessLog, 'utf8').catch(() => ''))), 'the stream in nginx\'s access log',
    { timeoutMs: 5_000, everyMs: 50 }).catch(() => undefined);
  expect(log).toMatch(/"GET \/events HTTP\/1\.1" 200 /);
  expect(log).toMatch(/"GET \/demo\.js HTTP\/1\.1" 200 /);
  expect(log).toMatch(/"GET \/nope HTTP\/1\.1" 404 /);
  expect(log).not.toContain(secret);
  expect(log).not.toContain('access_token');
  expect(log).not.toContain('?');
});

test('a relay that is down (a deploy, a crash) puts no query token in nginx\'s error log, and the access log names the upstream tried', async () => {
  // nginx writes the whole request line, query included, into every error-log line about a request ("connect() failed
  // … while connecting to upstream, request: "GET /events?…&access_token=…""), at the default `error` level.
  const relay = await startRelay({ SHUTDOWN_DRAIN_MS: '200' });
  cleanups.push(() => relay.stop());
  const down = await freePort();
  const nginx = await startNginxSite([down, relay.port]);
  cleanups.push(() => nginx.stop());
  const secret = 'eyJhbGciOiJIUzI1NiJ9.error-log-token.sig';
  for (const path of ['/events?topic=logs', '/publish', '/ack']) {
    // Round robin over two upstreams: of two requests, one tries the port nobody listens on first.
    for (let i = 0; i < 2; i++) {
      const controller = new AbortController();
      const post = path === '/events' || path.startsWith('/events?') ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' };
      const response = await fetch(`http://127.0.0.1:${nginx.port}${path}${path.includes('?') ? '&' : '?'}access_token=${secret}`, { ...post, signal: controller.signal });
      controller.abort();
      expect(response.status).not.toBe(502);
    }
  }
  let access = '';
  await waitFor(async () => ((access = await readFile(nginx.accessLog, 'utf8').catch(() => '')).match(/\n/g)?.length ?? 0) >= 6,
    'six requests in nginx\'s access log', { timeoutMs: 5_000, everyMs: 50 });
  const errors = await readFile(join(nginx.dir, 'error.log'), 'utf8');
  expect(errors).not.toContain(secret);
  expect(`${access}${errors}`).not.toContain('access_token');
  // The failed attempt is still visible to an operator: the access log lists both upstreams tried and their statuses.
  expect(access).toContain(`127.0.0.1:${down}, 127.0.0.1:${relay.port}`);
});

test('a plain EventSource through nginx outlives a relay restart (nginx\'s own 502 would close it for good)', async () => {
  // The site's one upstream, restarted on the same port: meanwhile nginx itself answers the reconnect (connection
  // refused), and EventSource gives up on any status but 200.
  let relay = await startRelay({ SHUTDOWN_DRAIN_MS: '200', RETRY_MS: '300' });
  const port = relay.port;
  cleanups.push(() => relay.stop());
  const nginx = await startNginxSite(port);
  cleanups.push(() => nginx.stop());
  // A query token, as an EventSource sends it: the answers nginx gives itself must not log it either.
  const es = new EventSource(`http://127.0.0.1:${nginx.port}/events?topic=restart&access_token=restart-secret`);
  cleanups.push(async () => es.close());
  const got: string[] = [];
  let errors = 0;
  es.onmessage = (event) => got.push(event.data);
  es.onerror = () => (errors += 1);
  await waitFor(() => es.readyState === EventSource.OPEN, 'the EventSource open through nginx', 5_000);
  await relay.stop();
  // Reconnect attempts while nothing listens: nginx answers each of them itself.
  await waitFor(() => errors >= 2 || es.readyState === EventSource.CLOSED, 'reconnects refused by nginx', 10_000);
  expect(es.readyState).not.toBe(EventSource.CLOSED);
  relay = await startRelay({ PORT: String(port), RETRY_MS: '300' });
  await waitFor(() => relay.app.hub.connections.size === 1, 'the EventSource back on the restarted relay', 15_000);
  expect((await publish(relay.url, { topic: 'restart', data: 'after' })).status).toBe(202);
  await waitFor(() => got.includes('after'), 'the event after the restart', 5_000);
  const logs = `${await readFile(nginx.accessLog, 'utf8')}${await readFile(join(nginx.dir, 'error.log'), 'utf8')}`;
  expect(logs).toMatch(/"GET \/events HTTP\/1\.1" 200 /);
  expect(logs).not.toContain('restart-secret');
}, 40_000);

test('over the TLS + HTTP/2 listener one page holds ten EventSources, and all ten receive events', async () => {
  const { relayUrl, nginx } = await site();
  const browser = await launchChromium({ ignoreHTTPSErrors: true });
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  const origin = `https://127.0.0.1:${nginx.tlsPort}`;
  // A same-origin document that opens no stream of its own (the demo page at / opens one).
  await page.goto(`${origin}/demo.css`);
  await page.evaluate(() => {
    const w = window as unknown as { __got: string[][]; __open: number };
    w.__got = [];
    w.__open = 0;
    for (let i = 0; i < 10; i++) {
      w.__got[i] = [];
      const source = new EventSource(`/events?topic=tab${i}`);
      source.onopen = () => (w.__open += 1);
      source.onmessage = (event) => w.__got[i]?.push(event.data as string);
    }
  });
  await page.waitForFunction(() => (window as unknown as { __open: number }).__open === 10, undefined, { timeout: 10_000 });
  for (let i = 0; i < 10; i++) expect((await publish(relayUrl, { topic: `tab${i}`, data: `hello ${i}` })).status).toBe(202);
  await page.waitForFunction(() => (window as unknown as { __got: string[][] }).__got.every((g) => g.length === 1), undefined, { timeout: 10_000 });
  const got = await page.evaluate(() => (window as unknown as { __got: string[][] }).__got);
  expect(got).toEqual([...Array(10).keys()].map((i) => [`hello ${i}`]));
  // Really HTTP/2: the page and its streams came over one h2 connection, not six HTTP/1.1 ones.
  const protocols = await page.evaluate(() => [
    (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
    ...performance.getEntriesByType('resource').filter((e) => e.name.includes('/events')).map((e) => (e as PerformanceResourceTiming).nextHopProtocol),
  ]);
  expect(protocols[0]).toBe('h2');
  // nginx logs each stream when it ends: closing the page ends all ten, each an HTTP/2 request.
  await page.close();
  let streams = 0;
  await waitFor(async () => (streams = (await readFile(nginx.accessLog, 'utf8')).match(/"GET \/events HTTP\/2\.0" 200 /g)?.length ?? 0) >= 10,
    'ten HTTP/2 streams in nginx\'s access log', { timeoutMs: 5_000, everyMs: 50 }).catch(() => undefined);
  expect(streams).toBe(10);
}, 40_000);

/**
 * Sends a POST's head and then `body` one byte every `everyMs`; resolves with the status (0: none) once the connection
 * closed, or rejects after `timeoutMs`.
 */
function trickledPost(port: number, head: string, body: string, everyMs: number, timeoutMs: number): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    let text = '';
    let sent = 0;
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    const timer = setInterval(() => sent < body.length && socket.write(body[sent++] ?? ''), everyMs);
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
    // A deadline of its own: the trickle keeps the socket from ever being idle.
    const deadline = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error(`the connection was still open after ${timeoutMs} ms (answer so far: ${JSON.stringify(text.slice(0, 40))})`));
    }, timeoutMs);
    socket.once('close', () => {
      clearInterval(timer);
      clearTimeout(deadline);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) });
    });
    socket.once('error', () => undefined);
  });
}

// Both shipped configs pass publish bodies through as they arrive, so the relay's own rules hold behind nginx: a bad
// token is refused from the headers, before any body, and a body that does not arrive within REQUEST_TIMEOUT_MS is cut
// (nginx's client_body_timeout is per read: buffered, a byte every few seconds would hold the request for good).
describe.each(['sse-relay.conf', 'location-snippet.conf'] as const)('publish bodies through nginx (%s)', (config) => {
  async function front(): Promise<number> {
    const relay = await startSecureRelay({ REQUEST_TIMEOUT_MS: '1000' });
    cleanups.push(() => relay.stop());
    const nginx = config === 'sse-relay.conf' ? await startNginxSite(relay.port) : await startNginx({ upstreamPort: relay.port });
    cleanups.push(() => nginx.stop());
    return nginx.port;
  }
  const head = (path: string, headers: string) => `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${headers}\r\n`;

  test('a publish without a valid token is refused before its body is sent', async () => {
    const port = await front();
    const answer = await trickledPost(port, head('/publish', 'Authorization: Bearer not-a-token\r\nContent-Length: 100000\r\n'), '', 1_000, 8_000);
    expect(answer.status).toBe(401);
  });

  test.each([
    ['Content-Length', 'Content-Length: 1000\r\n', '{"topic":"a","data":"' + 'x'.repeat(100)],
    ['chunked', 'Transfer-Encoding: chunked\r\n', '1\r\nx\r\n'.repeat(100)],
  ])('a trickled publish body (%s) is cut at REQUEST_TIMEOUT_MS', async (_framing, headers, body) => {
    const port = await front();
    // Closed long before the body could have arrived (a byte every 200 ms); once in a loaded run nginx closed without
    // passing the relay's 408 on (its write of the next byte met the relay's close), which is still a cut.
    const answer = await trickledPost(port, head('/publish', `Authorization: Bearer ${await hsToken()}\r\n${headers}`), body, 200, 8_000);
    expect([0, 408]).toContain(answer.status);
  });

  // The relay refuses a stream request with a body at once (400); buffering, nginx first waited for the whole body, a
  // byte every few seconds keeping the request (and its connection) for good.
  test('a stream request with a trickled body is refused at once, not held', async () => {
    const port = await front();
    const streamHead = `GET /events?topic=a HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${await hsToken()}\r\nContent-Length: 1000\r\n\r\n`;
    const answer = await trickledPost(port, streamHead, 'x'.repeat(100), 200, 8_000);
    expect(answer.status).toBe(400);
  });
});

// Tokens and Last-Event-ID cursors may be 8192 characters at the relay; with nginx's default 8k header lines a token
// naming many topics got nginx's HTML 400 ("Request Header Or Cookie Too Large"), which an EventSource takes as final.
test('a stream whose token and resume id are each near 8192 characters, alone or together, passes nginx to the relay', async () => {
  const relay = await startSecureRelay({ SHUTDOWN_DRAIN_MS: '200' });
  cleanups.push(() => relay.stop());
  const nginx = await startNginxSite(relay.port);
  cleanups.push(() => nginx.stop());
  // A subscriber allowed about 190 named topics: a token of 8,100 to 8,192 characters, so `Authorization: Bearer …` is
  // a header line over nginx's default 8k.
  let topics: string[] = [];
  let token = '';
  for (let count = 170; count < 220 && token.length <= 8_100; count++) {
    topics = Array.from({ length: count }, (_, i) => `customer-${String(i).padStart(4, '0')}:orders.eu-west`);
    token = await hsToken({ sse: { subscribe: topics } });
  }
  expect(token.length).toBeGreaterThan(8_100);
  expect(token.length).toBeLessThanOrEqual(8_192);
  const opened = await fetch(`http://127.0.0.1:${nginx.port}/events?topic=${topics[0]}`, { headers: { authorization: `Bearer ${token}` } });
  expect(opened.status).toBe(200);
  await opened.body?.cancel();
  // The relay's own answer to a cursor it did not issue (400 JSON), not nginx's: an 8,192-character Last-Event-ID.
  const cursor = `${topics[0]}=${'1'.repeat(8_192 - topics[0]!.length - 1)}`;
  // Both at their longest in one request (16.4 KB of headers): through nginx and past Node's default 16 KiB to the relay.
  const resumed = await fetch(`http://127.0.0.1:${nginx.port}/events?topic=${topics[0]}`, { headers: { authorization: `Bearer ${token}`, 'last-event-id': cursor } });
  expect(resumed.status).toBe(400);
  expect(await resumed.json()).toMatchObject({ error: 'invalid_cursor' });
});
