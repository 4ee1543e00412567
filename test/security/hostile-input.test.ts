import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { epochOf } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { headerLines, metric, rawExchange, startSecureRelay, type Relay } from './support.js';
import { freePort } from '../support/nginx.js';
import { waitFor } from '../support/wait-for.js';

const ORIGIN = 'https://app.example.com';
let relay: Relay;

beforeAll(async () => {
  relay = await startSecureRelay({ AUTH_MODE: 'none', CORS_ORIGINS: `${ORIGIN},http://localhost:3000`, MAX_BODY_BYTES: '4096' });
});
afterAll(async () => relay.stop());

async function publishJson(body: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, text: await response.text() };
}

// A raw HTTP/1.0 subscription: no chunked encoding, so the body is exactly the bytes of the SSE stream.
async function rawStream(topic: string, until: (raw: string) => boolean): Promise<string> {
  return rawExchange(relay.port, `GET /events?topic=${topic} HTTP/1.0\r\nHost: x\r\n\r\n`, until, 3_000);
}

const CONTROL = { CR: '\r', LF: '\n', CRLF: '\r\n', NUL: '\0', 'U+2028': '\u2028', 'C1 NEL (U+0085)': '\u0085', 'C1 CSI (U+009B)': '\u009b' };

describe('control characters in published data cannot break the SSE framing', () => {
  it.each(Object.entries(CONTROL))('data with %s arrives intact as data lines, and nothing else', async (name, char) => {
    const topic = `data-${name.replace(/[^a-z0-9]/gi, '')}`;
    const data = `before${char}event: forged${char}id: forged${char}retry: 1${char}after`;
    const reader = new SseReader(`${relay.url}/events?topic=${topic}`);
    await reader.until((r) => r.retries.length > 0);
    const opened = await metric(relay.url, 'sse_connections_total');
    const raw = rawStream(topic, (text) => text.includes('after\n\n'));
    // The hub counts a stream once it is subscribed: from then on the raw stream sees what is published.
    await waitFor(async () => (await metric(relay.url, 'sse_connections_total')) > opened, `the raw stream on ${topic} open`);
    const published = await publishJson({ topic, data });
    expect(published.status).toBe(202);
    const epoch = epochOf((JSON.parse(published.text) as { id: unknown }).id);
    await reader.until((r) => r.events.length === 1);
    reader.close();
    // What EventSource sees: one event, type message, the data with line ends normalized to \n and nothing lost.
    expect(reader.events[0]).toMatchObject({ event: undefined, id: `${topic}=${epoch}-1`, data: data.replace(/\r\n|\r/g, '\n') });
    expect(reader.retries).toEqual([reader.retries[0]]);
    const body = (await raw).split('\r\n\r\n').slice(1).join('\r\n\r\n');
    for (const line of body.split(/\r\n|\r|\n/)) expect(line).toMatch(/^($|data: |id: |retry: |: )/);
  });
});

// A 64-bit id is a common payload: JSON.parse holds it as a double, and the relay used to send that double back
// (9007199254740993 arrived as 9007199254740992, 1e400 as null) after answering the publish with 202.
it('numbers in JSON data arrive with the digits the producer wrote, not as the nearest double', async () => {
  const opened = await metric(relay.url, 'sse_connections_total');
  const reader = new SseReader(`${relay.url}/events?topic=digits`);
  await reader.until((r) => r.retries.length > 0);
  await waitFor(async () => (await metric(relay.url, 'sse_connections_total')) > opened, 'the stream on digits open');
  const response = await fetch(`${relay.url}/publish`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: '{"topic":"digits","data":{"id": 9007199254740993, "big": 1e400, "amount": 0.30000000000000000001}}',
  });
  expect(response.status).toBe(202);
  await reader.until((r) => r.events.length === 1);
  reader.close();
  expect(reader.events[0]?.data).toBe('{"id":9007199254740993,"big":1e400,"amount":0.30000000000000000001}');
});

describe('single-line fields and topics refuse line breaks and NUL', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['CR in event', { topic: 't', data: 'x', event: 'a\rretry: 1' }, 'invalid_event_field'],
    ['LF in event', { topic: 't', data: 'x', event: 'a\nid: 1' }, 'invalid_event_field'],
    ['NUL in event', { topic: 't', data: 'x', event: 'a\0' }, 'invalid_event_field'],
    ['CRLF in id (key)', { topic: 't', data: 'x', id: 'k\r\nevent: x' }, 'invalid_event_field'],
    ['NUL in id (key)', { topic: 't', data: 'x', id: '\0' }, 'invalid_event_field'],
    ...Object.entries(CONTROL).map(([name, char]): [string, Record<string, unknown>, string] => [`${name} in topic`, { topic: `a${char}b`, data: 'x' }, 'invalid_topic']),
  ];
  it.each(cases)('%s → 400', async (_name, body, code) => {
    const { status, text } = await publishJson(body);
    expect([status, JSON.parse(text)]).toEqual([400, { error: code, message: expect.stringMatching(/^(event|id|topic) must /) }]);
  });

  it.each(['%0d%0a', '%0a', '%0d', '%00', '%E2%80%A8', '%C2%85', '%C2%9B'])('%s in a subscribed topic → 400, nothing echoed', async (encoded) => {
    const raw = await rawExchange(relay.port, `GET /events?topic=a${encoded}Set-Cookie:%20pwned=1 HTTP/1.0\r\nHost: x\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw.toLowerCase()).not.toContain('pwned');
    expect(headerLines(raw).every((line) => /^[a-z-]+: [\x20-\x7e]*$/i.test(line))).toBe(true);
  });
});

describe('Origin and CORS', () => {
  it('echoes an allowed origin exactly, with credentials, never *', async () => {
    const response = await fetch(`${relay.url}/healthz`, { headers: { origin: ORIGIN } });
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it.each([
    ['an unlisted origin', 'https://evil.example.com'],
    ['a prefix trick', 'https://app.example.com.evil.com'],
    ['null', 'null'],
    ['%0d%0a in the origin', 'https://app.example.com%0d%0aSet-Cookie:%20pwned=1'],
  ])('gives %s no CORS header and never echoes it', async (_name, origin) => {
    const raw = await rawExchange(relay.port, `GET /healthz HTTP/1.0\r\nHost: x\r\nOrigin: ${origin}\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw.toLowerCase()).not.toContain('access-control-');
    expect(raw.toLowerCase()).not.toContain('pwned');
    expect(headerLines(raw)).toContain('vary: Origin');
  });

  it('a raw CR/LF inside the Origin header injects nothing (the request is refused)', async () => {
    const raw = await rawExchange(relay.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: ${ORIGIN}\rSet-Cookie: pwned=1\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw.toLowerCase()).not.toContain('pwned');
    expect(raw.toLowerCase()).not.toContain('access-control-');
  });

  it('answers the preflight of publish for an allowed origin, and only for it', async () => {
    const headers = { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' };
    const allowed = await fetch(`${relay.url}/publish`, { method: 'OPTIONS', headers });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(allowed.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(Number(allowed.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(allowed.headers.get('vary')).toBe('Origin');
    const refused = await fetch(`${relay.url}/publish`, { method: 'OPTIONS', headers: { ...headers, origin: 'https://evil.example.com' } });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(refused.headers.get('access-control-allow-methods')).toBeNull();
  });

  // Chromium sent a sibling origin's page (same-site, so with the sse_token cookie, even SameSite=Strict) a stream it
  // could not read: the relay opened it, and on a queue source would have handed it the user's messages.
  it('refuses a stream a browser asks for on behalf of a page of an unlisted origin, and only that', async () => {
    const status = async (headers: Record<string, string>): Promise<[number, string]> => {
      const controller = new AbortController();
      const response = await fetch(`${relay.url}/events?topic=sibling`, { headers, signal: controller.signal });
      const body = response.status === 200 ? 'stream' : ((await response.json()) as { error: string }).error;
      controller.abort();
      return [response.status, body];
    };
    const opened = await metric(relay.url, 'sse_connections_total');
    for (const site of ['same-site', 'cross-site']) {
      expect(await status({ origin: 'http://localhost:3001', 'sec-fetch-site': site })).toEqual([403, 'origin_not_allowed']);
      expect(await status({ origin: 'null', 'sec-fetch-site': site })).toEqual([403, 'origin_not_allowed']);
    }
    expect(await metric(relay.url, 'sse_connections_total')).toBe(opened);
    // An allowed page, a same-origin page (no Origin on its GET), and a client that is no browser are served.
    expect(await status({ origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site' })).toEqual([200, 'stream']);
    expect(await status({ 'sec-fetch-site': 'same-origin' })).toEqual([200, 'stream']);
    expect(await status({ origin: 'http://localhost:3001' })).toEqual([200, 'stream']);
  });

  it('puts the CORS headers on streams and on errors too', async () => {
    const reader = new SseReader(`${relay.url}/events?topic=cors`, { origin: ORIGIN });
    await reader.until((r) => r.retries.length > 0);
    expect(reader.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    reader.close();
    const error = await fetch(`${relay.url}/events`, { headers: { origin: ORIGIN } });
    expect(error.status).toBe(400);
    expect(error.headers.get('access-control-allow-origin')).toBe(ORIGIN);
  });
});

describe('Last-Event-ID from the network', () => {
  it.each([
    ['huge (> 8 KB)', `a=${'1'.repeat(9_000)}`],
    ['2,001 pairs', 'a=1,'.repeat(2_000) + 'a=1'],
    ['three-part position', 'a=1-2-3'],
    ['negative position', 'a=-1'],
    ['no topic', '=5'],
    ['a topic twice', 'a=1,a=2'],
    ['control characters', 'a=1\u0085'],
    ['not a cursor at all', '<script>alert(1)</script>'],
  ])('%s → 400 invalid_cursor', async (_name, cursor) => {
    const response = await fetch(`${relay.url}/events?topic=a&lastEventId=${encodeURIComponent(cursor)}`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_cursor' });
  });

  it('a header past the server header limit (> 32 KiB) is refused and the server stays up', async () => {
    const raw = await rawExchange(relay.port, `GET /events?topic=a HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${'a=1,'.repeat(9_000)}\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 431 /);
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });

  it('a cursor position beyond what the source can hold is 400 invalid_cursor, never a source error', async () => {
    for (const position of ['99999999999999999999', '9007199254740992', '1-9007199254740992', '9007199254740992-1']) {
      const response = await fetch(`${relay.url}/events?topic=future`, { headers: { 'last-event-id': `future=${position}` } });
      expect([position, response.status, await response.json()]).toMatchObject([position, 400, { error: 'invalid_cursor' }]);
    }
  });

  it('a forged cursor in the future (but one the source could hold) replays nothing, is told relay.reset, and live events still arrive', async () => {
    const reader = new SseReader(`${relay.url}/events?topic=future`, { 'last-event-id': 'future=9007199254740991' });
    await reader.until((r) => r.retries.length > 0);
    await publishJson({ topic: 'future', data: 'live' });
    await reader.until((r) => r.events.some((e) => e.data === 'live'));
    reader.close();
    // No message of the topic was ever issued here: the cursor names a position this process never had (a restart's
    // predecessor, or a forgery), so the client hears the reset rather than a silent skip.
    expect(reader.events.map((e) => e.event ?? 'message')).toEqual(['relay.reset', 'message']);
    expect(reader.events.at(-1)?.data).toBe('live');
  });
});

describe('oversize bodies', () => {
  it('a declared Content-Length past MAX_BODY_BYTES is refused before the body is sent', async () => {
    const raw = await rawExchange(
      relay.port,
      'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n',
      (text) => text.includes('}'),
    );
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    expect(raw).toContain('{"error":"body_too_large","message":"body is larger than MAX_BODY_BYTES (');
  });

  it('a chunked body without Content-Length is cut at MAX_BODY_BYTES', async () => {
    const chunks = Array.from({ length: 64 }, () => `400\r\n${'x'.repeat(0x400)}\r\n`).join('');
    const raw = await rawExchange(
      relay.port,
      `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`,
      (text) => text.includes('}'),
    );
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });
});

describe('the request target is a path', () => {
  it.each([
    ['an authority smuggled with //', 'GET //x/metrics'],
    ['// alone', 'GET //metrics'],
    ['an unparseable authority', 'GET //['],
    ['absolute-form', 'GET http://x/metrics'],
    ['asterisk-form', 'OPTIONS *'],
    ['an authority smuggled on publish', 'POST //x/publish'],
    // The URL parser reads `\\` as `/` in an http URL: these were served as /metrics, past any proxy rule on the path.
    ['an authority smuggled with /\\', 'GET /\\x/metrics'],
    ['an authority smuggled with /\\/', 'GET /\\/x/metrics'],
    ['dot segments spelled with backslashes', 'GET /events\\..\\metrics'],
    // node:http hands CONNECT to its 'connect' event and, with no listener, dropped the socket with no answer or log.
    ['authority-form (CONNECT)', 'CONNECT x:443'],
  ])('%s is answered 400 invalid_request, never served and never dropped', async (_name, line) => {
    const raw = await rawExchange(relay.port, `${line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, (text) => text.includes('}'));
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('{"error":"invalid_request","message":"');
    expect(raw).not.toContain('sse_connections_open');
  });

  it('CONNECT on the METRICS_PORT listener is answered 400 too, not dropped', async () => {
    const metricsRelay = await startSecureRelay({ AUTH_MODE: 'none', METRICS_PORT: String(await freePort()) });
    try {
      const raw = await rawExchange(metricsRelay.metricsPort as number, 'CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n', (text) => text.includes('}'));
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toContain('{"error":"invalid_request","message":"');
    } finally {
      await metricsRelay.stop();
    }
  });

  it('a request node:http cannot parse gets a 400 status line, not a silently dropped socket', async () => {
    const raw = await rawExchange(relay.port, 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });
});

// A stream request is complete once its headers are in, so REQUEST_TIMEOUT_MS never cuts a stream; one that announced a
// body it never finished was opened anyway (200) and then cut at the deadline, with no position and no retry:.
describe('a stream request takes no body', () => {
  it.each([
    ['a declared body left unfinished', 'Content-Length: 10\r\n\r\nabc'],
    ['a chunked body left unfinished', 'Transfer-Encoding: chunked\r\n\r\n5\r\nhel'],
  ])('%s is answered 400 invalid_request at once', async (_name, rest) => {
    const raw = await rawExchange(relay.port, `GET /events?topic=a HTTP/1.1\r\nHost: x\r\n${rest}`, (text) => text.includes('}') || text.includes('retry:'));
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('{"error":"invalid_request","message":"GET /events takes no body');
  });

  it.each(['0', '00'])('an empty declared body (Content-Length: %s) is no body: the stream opens', async (length) => {
    const raw = await rawExchange(relay.port, `GET /events?topic=a HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`, (text) => text.includes('retry:'));
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('static pages', () => {
  it.each(['/', '/sse-client.js', '/demo.js'])('%s carries CSP, nosniff, frame protection and no referrer', async (path) => {
    const response = await fetch(`${relay.url}${path}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });
});

describe('request ids', () => {
  it('keeps a sane X-Request-Id and replaces one that is not', async () => {
    const sane = await fetch(`${relay.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(sane.headers.get('x-request-id')).toBe('abc-123');
    const raw = await rawExchange(relay.port, 'GET /healthz HTTP/1.0\r\nHost: x\r\nX-Request-Id: a b%0d%0aSet-Cookie: x\r\n\r\n');
    const line = headerLines(raw).find((l) => l.toLowerCase().startsWith('x-request-id:')) ?? '';
    expect(line).toMatch(/^x-request-id: [0-9a-f-]{36}$/i);
  });
});
