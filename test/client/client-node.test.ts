import { afterAll, expect, test } from '@jest/globals';
import { createServer, type ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import { RelayClient, type ResetDetail } from '../../public/sse-client.js';
import { signToken } from '../../publisher/index.js';
import { epochOf, publish, startRelay } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';

// The same client in Node 20 (fetch, EventTarget and MessageEvent are built in), against the real server for what the
// server can produce (a reset after an expired cursor, a refused cursor), and against a raw socket for frames a
// correct server never sends (a malformed or unknown reserved event), which the client must survive.

const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(client: RelayClient): { events: [string, unknown, string][]; resets: ResetDetail[] } {
  cleanups.push(() => client.close());
  const seen = { events: [] as [string, unknown, string][], resets: [] as ResetDetail[] };
  client.on('*', (data, event) => seen.events.push([event.type, data, event.lastEventId]));
  client.addEventListener('reset', (e) => seen.resets.push(e.detail));
  return seen;
}


test('a cursor older than the buffer: one reset event with the topics, then the retained messages', async () => {
  const relay = await startRelay({ MEMORY_BUFFER_SIZE: '3', SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  const epoch = epochOf((await publish(relay.url, { topic: 'orders', data: { n: 1 } })).json['id']);
  for (let n = 2; n <= 6; n++) await publish(relay.url, { topic: 'orders', data: { n } });
  const seen = track(new RelayClient(`${relay.url}/events`, { topics: ['orders'], lastEventId: `orders=${epoch}-1` }));
  await waitFor(() => seen.events.length >= 3, 'three events', { timeoutMs: 5_000, everyMs: 10 });
  expect(seen.resets).toEqual([{ reason: 'cursor-expired', topics: ['orders'] }]);
  expect(seen.events).toEqual([4, 5, 6].map((n) => ['message', { n }, `orders=${epoch}-${n}`]));
});

test('close() in a handler: no later event is dispatched, even from the same chunk, and lastEventId stays at the last one handed over', async () => {
  const relay = await startRelay({ SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  const epoch = epochOf((await publish(relay.url, { topic: 'orders', data: { n: 1 } })).json['id']);
  for (let n = 2; n <= 5; n++) await publish(relay.url, { topic: 'orders', data: { n } });
  // The five replayed events come in one write: the first handler call closes the client.
  const client = new RelayClient(`${relay.url}/events`, { topics: ['orders'], lastEventId: 'orders=0' });
  const seen: unknown[] = [];
  client.on('*', (data) => {
    seen.push(data);
    client.close();
  });
  await waitFor(() => client.state === 'closed', 'the client closed', { timeoutMs: 5_000, everyMs: 10 });
  await publish(relay.url, { topic: 'orders', data: { n: 6 } });
  await new Promise((resolve) => setTimeout(resolve, 200)); // proving that nothing more arrives
  expect(seen).toEqual([{ n: 1 }]);
  expect(client.lastEventId).toBe(`orders=${epoch}-1`);
});

test('a refused token whose refresh failed: later attempts still ask for a fresh one (reason unauthorized) until a stream opens', async () => {
  const secret = 'client-node-test-secret-of-32-bytes++';
  const relay = await startRelay({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: secret, SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  // A provider that caches its token until told it was refused; the cached one has expired, and the token endpoint
  // fails the first refresh. Handing back the refused token on the next attempts would be 401 for ever.
  let cached = await new SignJWT({ sse: { subscribe: ['orders'] } }).setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(secret));
  const reasons: string[] = [];
  const token = async ({ reason }: { reason: string }): Promise<string> => {
    reasons.push(reason);
    if (reason !== 'unauthorized') return cached;
    if (reasons.filter((r) => r === 'unauthorized').length === 1) throw new Error('the token endpoint is down');
    cached = await signToken({ secret, subscribe: ['orders'], ttl: '10m' });
    return cached;
  };
  const client = new RelayClient(`${relay.url}/events`, { topics: ['orders'], token, baseDelayMs: 50, maxDelayMs: 100 });
  cleanups.push(() => client.close());
  await waitFor(() => client.state === 'open', 'the client open with a fresh token', { timeoutMs: 5_000, everyMs: 10 });
  expect(reasons).toEqual(['connect', 'unauthorized', 'unauthorized']);
});

test('a fixed string token the relay refuses (401): the client stops and says to pass a provider, rather than back off for ever', async () => {
  const secret = 'client-node-test-secret-of-32-bytes++';
  const relay = await startRelay({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: secret, SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  const expired = await new SignJWT({ sse: { subscribe: ['orders'] } }).setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(secret));
  const client = new RelayClient(`${relay.url}/events`, { topics: ['orders'], token: expired, baseDelayMs: 20, maxDelayMs: 40 });
  cleanups.push(() => client.close());
  const errors: { kind: string; status?: number; error?: unknown }[] = [];
  const states: string[] = [];
  client.addEventListener('error', (e) => errors.push(e.detail));
  client.addEventListener('statechange', (e) => states.push(e.detail.state));
  await waitFor(() => client.state === 'failed', () => `the client failed (states ${states.join(' → ')})`, { timeoutMs: 5_000, everyMs: 10 });
  await new Promise((resolve) => setTimeout(resolve, 200)); // proving that no later attempt is made
  expect(states).toEqual(['connecting', 'failed']);
  expect(errors).toEqual([expect.objectContaining({ kind: 'refused', status: 401, code: 'unauthorized', error: expect.objectContaining({ message: expect.stringMatching(/pass `token` as a function/) }) })]);
});

test('a refusal that stops the client carries the relay\'s code and its words on what was wrong', async () => {
  const relay = await startRelay({ SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  const client = new RelayClient(`${relay.url}/events`, { topics: ['no spaces allowed'] });
  cleanups.push(() => client.close());
  const errors: unknown[] = [];
  client.addEventListener('error', (e) => errors.push(e.detail));
  await waitFor(() => client.state === 'failed', 'the client failed', { timeoutMs: 5_000, everyMs: 10 });
  expect(errors).toEqual([{ kind: 'refused', status: 400, code: 'invalid_topic', message: expect.stringMatching(/^topic must match /) }]);
});

test('a cursor the server does not know: a reset (invalid-cursor), then the stream from now on', async () => {
  const relay = await startRelay({ SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  const client = new RelayClient(`${relay.url}/events`, { topics: ['orders'], lastEventId: 'not-a-cursor' });
  const seen = track(client);
  await waitFor(() => client.state === 'open', 'the client open', { timeoutMs: 5_000, everyMs: 10 });
  const epoch = epochOf((await publish(relay.url, { topic: 'orders', event: 'created', data: 'x' })).json['id']);
  await waitFor(() => seen.events.length >= 1, 'an event', { timeoutMs: 5_000, everyMs: 10 });
  expect(seen.resets).toEqual([{ reason: 'invalid-cursor', topics: ['orders'] }]);
  expect(seen.events).toEqual([['created', 'x', `orders=${epoch}-1`]]);
});

test('a saved cursor that cannot travel in a header (non-ASCII, a line break) reaches the relay and is reset, not retried for ever', async () => {
  const relay = await startRelay({ SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  for (const lastEventId of ['orders=✓', 'orders=1\n2']) {
    // fetch refuses such a header value before anything is sent: every attempt failed as a network error, for ever.
    const client = new RelayClient(`${relay.url}/events`, { topics: ['orders'], lastEventId, baseDelayMs: 20, maxDelayMs: 40 });
    const seen = track(client);
    await waitFor(() => client.state === 'open', () => `the client open (state ${client.state})`, { timeoutMs: 5_000, everyMs: 10 });
    expect(seen.resets).toEqual([{ reason: 'invalid-cursor', topics: ['orders'] }]);
    client.close();
  }
});

test('tokenTransport cookie with a token where there is no document (Node) is refused at once, not retried for ever', async () => {
  expect(() => new RelayClient('http://127.0.0.1:1/events', { topics: ['orders'], tokenTransport: 'cookie', token: 'a.b.c' }))
    .toThrow(/tokenTransport "cookie" needs a browser document/);
  // Without a token the cookie is the server's own business: allowed.
  const client = new RelayClient('http://127.0.0.1:1/events', { topics: ['orders'], tokenTransport: 'cookie' });
  client.close();
});

test('a url that cannot be resolved (relative outside a page, malformed) throws at construction, not on every attempt for ever', () => {
  expect(() => new RelayClient('/events', { topics: ['orders'] })).toThrow(/RelayClient: url/);
  expect(() => new RelayClient('http://[::1/events', { topics: ['orders'] })).toThrow(/RelayClient: url/);
});

test('reserved relay.* frames are never handed to listeners; a malformed relay.reset still becomes a well-formed reset', async () => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(['retry: 60000', '', 'event: relay.reset', 'data: {not json', '', 'event: relay.reset', 'data: {"reason":5,"topics":["a",7]}', '',
      'event: relay.future', 'data: {}', '', 'id: t=9', 'data: after', '', ''].join('\n'));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  cleanups.push(() => new Promise((done) => server.close(done)));
  const { port } = server.address() as { port: number };
  const client = new RelayClient(`http://127.0.0.1:${port}/events`, { topics: ['t'] });
  const seen = track(client);
  await waitFor(() => seen.events.length >= 1, 'an event', { timeoutMs: 5_000, everyMs: 10 });
  expect(seen.resets).toEqual([{ reason: 'unknown', topics: [] }, { reason: 'unknown', topics: ['a'] }]);
  expect(seen.events).toEqual([['message', 'after', 't=9']]);
  expect(() => client.on('relay.reset', () => undefined)).toThrow(TypeError);
  expect(client.lastEventId).toBe('t=9');
});

test('a stream that goes silent (no heartbeat within idleTimeoutMs) is given up and reopened', async () => {
  const relay = await startRelay({ HEARTBEAT_MS: '60000', RETRY_MS: '100', SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  const client = new RelayClient(`${relay.url}/events`, { topics: ['quiet'], idleTimeoutMs: 300 });
  const seen = track(client);
  const states: string[] = [];
  client.addEventListener('statechange', (e) => states.push(e.detail.state));
  await waitFor(() => states.filter((s) => s === 'open').length >= 2, 'the client open a second time', { timeoutMs: 5_000, everyMs: 10 });
  const epoch = epochOf((await publish(relay.url, { topic: 'quiet', data: 'still here' })).json['id']);
  await waitFor(() => seen.events.length >= 1, 'an event', { timeoutMs: 5_000, everyMs: 10 });
  expect(seen.events).toEqual([['message', 'still here', `quiet=${epoch}-1`]]);
  expect(states.slice(0, 4)).toEqual(['connecting', 'open', 'reconnecting', 'connecting']);
});

/** A raw server whose every /events answer is `answer`; counts the requests. */
async function rawServer(answer: (res: ServerResponse) => void): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests += 1;
    answer(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  cleanups.push(() => new Promise((done) => (server.closeAllConnections(), server.close(done))));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/events`, requests: () => requests };
}

test('no answer holds the client in a tight loop: Retry-After 0 or past, retry: 0 on empty streams, invalid_cursor without a cursor', async () => {
  const answers: Record<string, (res: ServerResponse) => void> = {
    'Retry-After: 0': (res) => res.writeHead(503, { 'retry-after': '0' }).end(),
    'Retry-After in the past': (res) => res.writeHead(429, { 'retry-after': 'Sun, 06 Nov 1994 08:49:37 GMT' }).end(),
    'retry: 0 and the end': (res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end('retry: 0\n\n'),
    'invalid_cursor with no cursor sent': (res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_cursor"}'),
  };
  const baseDelayMs = 200;
  const delays = await Promise.all(Object.entries(answers).map(async ([name, answer]) => {
    const { url } = await rawServer(answer);
    const client = new RelayClient(url, { topics: ['t'], baseDelayMs, maxDelayMs: 60_000 });
    cleanups.push(() => client.close());
    const waits: number[] = [];
    client.addEventListener('statechange', (e) => void (e.detail.delayMs !== undefined && waits.push(e.detail.delayMs)));
    await waitFor(() => waits.length >= 3, `three waits after "${name}"`, { timeoutMs: 10_000, everyMs: 10 });
    client.close();
    return [name, waits.slice(0, 3)] as const;
  }));
  // Each wait at least half its capped exponential (base, 2 × base, 4 × base): the backoff grows instead of a loop.
  for (const [name, waits] of delays) expect([name, waits.map((ms, k) => ms >= (baseDelayMs * 2 ** k) / 2)]).toEqual([name, [true, true, true]]);
});

test('an attempt that never gets an answer (a token provider that never settles, no headers, a refusal whose body never ends) is given up after idleTimeoutMs', async () => {
  const silent = await rawServer(() => undefined);
  const answering = await rawServer((res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end('id: t=1\ndata: x\n\n'));
  const endless = await rawServer((res) => void res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).write('{"err'));
  const cases = [
    { name: 'no headers', url: silent.url, token: undefined, errors: ['network'] },
    { name: 'a provider that never settles', url: answering.url, token: () => new Promise<string>(() => undefined), errors: ['token'] },
    { name: 'a 503 whose body never ends', url: endless.url, token: undefined, errors: [] },
  ];
  await Promise.all(cases.map(async ({ name, url, token, errors: expected }) => {
    const client = new RelayClient(url, { topics: ['t'], token, idleTimeoutMs: 300 });
    cleanups.push(() => client.close());
    const errors: string[] = [];
    client.addEventListener('error', (e) => errors.push(e.detail.kind));
    await waitFor(() => client.state === 'backoff', `backoff after ${name}`, { timeoutMs: 5_000, everyMs: 10 });
    client.close();
    expect([name, errors]).toEqual([name, expected]);
  }));
  expect(answering.requests()).toBe(0);
});

test('timing options passed as undefined take their defaults, invalid ones throw, and a Retry-After past the timer range waits the longest timer', async () => {
  const refusing = await rawServer((res) => res.writeHead(502).end());
  const client = new RelayClient(refusing.url, { topics: ['t'], baseDelayMs: undefined, maxDelayMs: undefined, retryMs: undefined, idleTimeoutMs: undefined });
  cleanups.push(() => client.close());
  const waits: number[] = [];
  client.addEventListener('statechange', (e) => void (e.detail.delayMs !== undefined && waits.push(e.detail.delayMs)));
  await waitFor(() => waits.length >= 1, 'a first backoff', { timeoutMs: 5_000, everyMs: 10 });
  client.close();
  expect(waits[0]).toBeGreaterThanOrEqual(500); // half the default baseDelayMs, not NaN (a timer of NaN fires at once)

  for (const options of [{ baseDelayMs: 0 }, { maxDelayMs: -1 }, { retryMs: Number.NaN }, { idleTimeoutMs: '45000' as unknown as number }]) {
    expect(() => new RelayClient(refusing.url, { topics: ['t'], ...options })).toThrow(TypeError);
  }
  // A Promise where the provider belongs (token: getToken()) failed every attempt and backed off for ever.
  expect(() => new RelayClient(refusing.url, { topics: ['t'], token: Promise.resolve('a.b.c') as unknown as string }))
    .toThrow(new TypeError('RelayClient: options.token must be a string or a function returning one; got an object (a Promise: pass the function, token: () => getToken(), not its result)'));
  expect(() => new RelayClient(refusing.url, { topics: ['t'], fetch: 'fetch' as unknown as typeof fetch })).toThrow(new TypeError('RelayClient: options.fetch must be a function like globalThis.fetch; got a string'));
  expect(() => new RelayClient(refusing.url, { topics: ['t'], lastEventId: 7 as unknown as string })).toThrow(new TypeError('RelayClient: options.lastEventId must be a string (an id the relay sent); got a number'));
  expect(() => new RelayClient(refusing.url, { topics: ['t'], ackUrl: new URL('http://x/ack') as unknown as string }))
    .toThrow(new TypeError("RelayClient: options.ackUrl must be a string (the URL of POST /ack, e.g. the publish function's URL + '/ack'); got an object"));

  // 30 days: a timer longer than 2^31 - 1 ms fires at once, which would retry in a tight loop.
  const month = await rawServer((res) => res.writeHead(503, { 'retry-after': String(30 * 86_400) }).end());
  const patient = new RelayClient(month.url, { topics: ['t'] });
  cleanups.push(() => patient.close());
  const delays: number[] = [];
  patient.addEventListener('statechange', (e) => void (e.detail.delayMs !== undefined && delays.push(e.detail.delayMs)));
  await waitFor(() => delays.length >= 1, 'the backoff after the 503', { timeoutMs: 5_000, everyMs: 10 });
  patient.close();
  expect(delays).toEqual([2 ** 31 - 1]);
  expect(month.requests()).toBe(1);
});

test('ack: true on a broadcast stream sends no POST /ack: only queue handles (<topic>~…) are acknowledged', async () => {
  const relay = await startRelay({ SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  const posted: string[] = [];
  const client = new RelayClient(`${relay.url}/events`, {
    topics: ['orders'], ack: true,
    fetch: (url, init) => {
      if (url.pathname === '/ack') posted.push(String(init.body));
      return fetch(url, init);
    },
  });
  const seen = track(client);
  await waitFor(() => client.state === 'open', 'the stream opened', { timeoutMs: 5_000, everyMs: 10 });
  for (let n = 1; n <= 3; n++) await publish(relay.url, { topic: 'orders', data: { n } });
  await waitFor(() => seen.events.length === 3, 'three events', { timeoutMs: 5_000, everyMs: 10 });
  await new Promise((resolve) => setTimeout(resolve, 200)); // an acknowledgement goes out right after its handler
  // Before: `orders=1`.slice(0, -1) named topic "orders=", and every event cost a POST /ack answered 404.
  expect(posted).toEqual([]);
});
