import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';
import { AUDIENCE, hsToken, ISSUER, metric, rawExchange, startJwksServer, startSecureRelay, unsignedToken, type JwksServer, type Relay } from './support.js';

let relay: Relay;
const now = (): number => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  relay = await startSecureRelay({ RETRY_MS: '50' });
});
afterAll(async () => relay.stop());

async function subscribeStatus(query: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const controller = new AbortController();
  const response = await fetch(`${relay.url}/events?${query}`, { headers, signal: controller.signal });
  const body = response.status === 200 ? '' : await response.text();
  controller.abort();
  return { status: response.status, body };
}

async function publishStatus(token: string | undefined, topic: string): Promise<number> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const response = await fetch(`${relay.url}/publish`, { method: 'POST', headers, body: JSON.stringify({ topic, data: 'x' }) });
  await response.text();
  return response.status;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe('who may subscribe (JWT, HS256)', () => {
  const rejected: [string, () => Promise<string>][] = [
    ['alg: none', async () => unsignedToken({ sub: 'eve', aud: AUDIENCE, iss: ISSUER, exp: now() + 600, sse: { subscribe: ['*'] } })],
    ['expired', () => hsToken({}, now() - 60)],
    ['not yet valid (nbf)', () => hsToken({ nbf: now() + 600 })],
    ['wrong audience', () => hsToken({ aud: 'someone-else' })],
    ['wrong issuer', () => hsToken({ iss: 'https://evil.test' })],
    ['a malformed sse claim (not a list)', () => hsToken({ sse: { subscribe: 'orders' } })],
    ['a pattern outside the language (* inside)', () => hsToken({ sse: { subscribe: ['user.*.inbox'] } })],
    ['a pattern outside the topic charset', () => hsToken({ sse: { subscribe: ['orders\r\nx'] } })],
    ['a forged signature', async () => (await hsToken()).replace(/\.[^.]+$/, '.' + Buffer.from('forged').toString('base64url'))],
  ];
  it.each(rejected)('401 for a token that is %s', async (_name, make) => {
    const result = await subscribeStatus('topic=orders', bearer(await make()));
    // The reason is the client's to know (RFC 6750's error_description); the token's claims never are.
    expect({ ...result, body: JSON.parse(result.body) as unknown }).toEqual({
      status: 401, body: { error: 'unauthorized', message: expect.stringMatching(/^(token rejected: [A-Za-z_]+|the token has a malformed sse claim)$/) },
    });
  });

  it('401 without any token, on both routes', async () => {
    expect((await subscribeStatus('topic=orders')).status).toBe(401);
    expect(await publishStatus(undefined, 'orders')).toBe(401);
  });

  it('a 401 names the scheme it takes (WWW-Authenticate: Bearer), with and without a token; other refusals do not', async () => {
    const challenge = async (path: string, headers: Record<string, string>): Promise<[number, string | null]> => {
      const response = await fetch(`${relay.url}${path}`, { method: path === '/publish' ? 'POST' : 'GET', headers });
      await response.body?.cancel();
      return [response.status, response.headers.get('www-authenticate')];
    };
    expect(await challenge('/events?topic=orders', {})).toEqual([401, 'Bearer']);
    expect(await challenge('/events?topic=orders', bearer('not-a-jwt'))).toEqual([401, 'Bearer']);
    expect(await challenge('/publish', { 'content-type': 'application/json' })).toEqual([401, 'Bearer']);
    expect(await challenge('/events?topic=payments', bearer(await hsToken({ sse: { subscribe: ['orders'] } })))).toEqual([403, null]);
  });

  it('403 (not 401) for a valid token that does not cover the topic, even if only one of several', async () => {
    const token = await hsToken({ sse: { subscribe: ['orders'] } });
    expect(await subscribeStatus('topic=payments', bearer(token))).toEqual({ status: 403, body: '{"error":"forbidden","message":"the token does not allow subscribe on every requested topic"}' });
    expect((await subscribeStatus('topic=orders&topic=payments', bearer(token))).status).toBe(403);
    expect((await subscribeStatus('topic=orders', bearer(token))).status).toBe(200);
    expect(await metric(relay.url, 'sse_http_errors_total', { code: 'forbidden' })).toBeGreaterThanOrEqual(2);
  });

  it('a prefix pattern covers the topics below it and nothing else', async () => {
    const token = await hsToken({ sse: { subscribe: ['user.123.*'] } });
    expect((await subscribeStatus('topic=user.123.inbox', bearer(token))).status).toBe(200);
    expect((await subscribeStatus('topic=user.1234', bearer(token))).status).toBe(403);
    expect((await subscribeStatus('topic=user.123', bearer(token))).status).toBe(403);
  });

  it('publish needs a publish grant; a subscribe grant is not enough', async () => {
    expect(await publishStatus(await hsToken({ sse: { subscribe: ['*'] } }), 'orders')).toBe(403);
    expect(await publishStatus(await hsToken({ sse: { subscribe: [], publish: ['orders'] } }), 'orders')).toBe(202);
  });

  // node:http answers `Expect: 100-continue` with 100 Continue before the request is looked at, so a client with a bad
  // token uploaded its whole body, only to be refused.
  it('a publish that expects 100-continue is refused before it is asked for its body, and asked only once it may send', async () => {
    const body = '{"topic":"orders","data":1}';
    const head = (token: string | undefined): string => 'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
      + (token === undefined ? '' : `Authorization: Bearer ${token}\r\n`) + `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`;
    const refused = await rawExchange(relay.port, head(undefined), (text) => text.includes('}'));
    expect(refused).toMatch(/^HTTP\/1\.1 401 /);
    const subscriberOnly = await rawExchange(relay.port, head(await hsToken({ sse: { subscribe: ['*'] } })), (text) => text.includes('}'));
    expect(subscriberOnly).toMatch(/^HTTP\/1\.1 403 /);

    const socket = connect(relay.port, '127.0.0.1');
    let raw = '';
    socket.on('data', (chunk: Buffer) => (raw += chunk.toString('latin1')));
    socket.write(head(await hsToken({ sse: { publish: ['orders'] } })));
    await waitFor(() => raw.includes('\r\n\r\n'), 'an interim answer');
    expect(raw).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    socket.write(body);
    await waitFor(() => raw.includes('}'), 'the final answer');
    socket.destroy();
    expect(raw.slice('HTTP/1.1 100 Continue\r\n\r\n'.length)).toMatch(/^HTTP\/1\.1 202 /);

    // An HTTP/1.0 client never gets a 1xx answer (RFC 9110 §15.2), Expect or not.
    const old = await rawExchange(relay.port, head(await hsToken({ sse: { publish: ['orders'] } })).replace('HTTP/1.1', 'HTTP/1.0') + body, (text) => text.includes('}'));
    expect(old).toMatch(/^HTTP\/1\.1 202 /);
  });

  // The declared size is one of the checks the headers decide: 100 Continue went out first, then 413, so the client was
  // asked to start uploading a body (here a gigabyte) that was refused anyway.
  it('a publish that expects 100-continue with a declared body over MAX_BODY_BYTES gets 413 and never 100 Continue', async () => {
    const token = await hsToken({ sse: { publish: ['orders'] } });
    const head = 'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
      + `Authorization: Bearer ${token}\r\nContent-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n`;
    const answer = await rawExchange(relay.port, head, (text) => text.includes('}'));
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).not.toContain('100 Continue');
  });

  // A 9 KB token was refused as "no token in Authorization, cookie or access_token": the client was told to send what it
  // had sent. The answer names the bound instead, wherever the token came from.
  it('refuses a token longer than 8192 characters with 401 naming the bound, in every transport', async () => {
    const long = await hsToken({ padding: 'p'.repeat(7_000) });
    expect(long.length).toBeGreaterThan(8_192);
    for (const { query, headers } of [
      { query: 'topic=a', headers: bearer(long) },
      { query: 'topic=a', headers: { cookie: `sse_token=${long}` } },
      { query: `topic=a&access_token=${long}`, headers: {} },
    ]) {
      const { status, body } = await subscribeStatus(query, headers);
      expect(status).toBe(401);
      expect(JSON.parse(body)).toEqual({ error: 'unauthorized', message: expect.stringContaining('longer than 8192 characters') });
    }
  });

  it('takes the token from Authorization, the sse_token cookie, or access_token', async () => {
    const token = await hsToken();
    expect((await subscribeStatus('topic=a', bearer(token))).status).toBe(200);
    expect((await subscribeStatus('topic=a', { cookie: `theme=dark; sse_token=${token}` })).status).toBe(200);
    expect((await subscribeStatus(`topic=a&access_token=${token}`)).status).toBe(200);
    expect((await subscribeStatus('topic=a', { cookie: `other_token=${token}` })).status).toBe(401);
  });

  it('ends the stream with a final retry: when the token expires', async () => {
    const reader = new SseReader(`${relay.url}/events?topic=a`, bearer(await hsToken({}, now() + 2)));
    await reader.until((r) => r.retries.length >= 1);
    await reader.ended;
    expect(reader.status).toBe(200);
    expect(reader.retries.length).toBe(2);
  }, 10_000);

  it('replays nothing of a topic the token does not cover, even when the cursor names it', async () => {
    const admin = await hsToken();
    for (const topic of ['secret', 'mine', 'secret']) {
      const r = await fetch(`${relay.url}/publish`, { method: 'POST', headers: { ...bearer(admin), 'content-type': 'application/json' }, body: JSON.stringify({ topic, data: `on ${topic}` }) });
      expect(r.status).toBe(202);
    }
    const token = await hsToken({ sse: { subscribe: ['mine'] } });
    const reader = new SseReader(`${relay.url}/events?topic=mine`, { ...bearer(token), 'last-event-id': 'mine=0,secret=0' });
    await reader.until((r) => r.events.length >= 1);
    // A live marker comes after everything the replay sends: a leaked `secret` event would be before it.
    const marker = await fetch(`${relay.url}/publish`, { method: 'POST', headers: { ...bearer(admin), 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'mine', data: 'marker' }) });
    expect(marker.status).toBe(202);
    await reader.until((r) => r.events.some((e) => e.data === 'marker'));
    reader.close();
    expect(reader.events.map((e) => e.data)).toEqual(['on mine', 'marker']);
    expect(reader.ids.every((id) => !id.includes('secret'))).toBe(true);
  });
});

describe.each(['RS256', 'ES256'] as const)('JWKS (%s)', (alg) => {
  let jwks: JwksServer;
  let jwksRelay: Relay;
  beforeAll(async () => {
    jwks = await startJwksServer(alg);
    jwksRelay = await startSecureRelay({ AUTH_JWT_SECRET: '', AUTH_JWKS_URL: jwks.url });
  });
  afterAll(async () => {
    await jwksRelay.stop();
    await jwks.close();
  });

  it('accepts a token signed by a key of the JWKS, and still checks the topic', async () => {
    const token = await jwks.sign({ sse: { subscribe: ['orders'] } });
    const ok = await fetch(`${jwksRelay.url}/events?topic=orders`, { headers: bearer(token), signal: AbortSignal.timeout(2_000) });
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    expect((await fetch(`${jwksRelay.url}/events?topic=other`, { headers: bearer(token) })).status).toBe(403);
  });

  it('refuses HS256 (no secret configured: no algorithm confusion) and alg: none', async () => {
    expect((await fetch(`${jwksRelay.url}/events?topic=a`, { headers: bearer(await hsToken()) })).status).toBe(401);
    const none = unsignedToken({ aud: AUDIENCE, iss: ISSUER, exp: now() + 60, sse: { subscribe: ['*'] } });
    expect((await fetch(`${jwksRelay.url}/events?topic=a`, { headers: bearer(none) })).status).toBe(401);
  });
});

it('answers 503 auth_unavailable with Retry-After, not 401, when the JWKS cannot be fetched', async () => {
  const jwks = await startJwksServer('ES256');
  const token = await jwks.sign({ sse: { subscribe: ['orders'] } });
  await jwks.close();
  const relay = await startSecureRelay({ AUTH_JWT_SECRET: '', AUTH_JWKS_URL: jwks.url });
  try {
    const answer = await fetch(`${relay.url}/events?topic=orders`, { headers: bearer(token) });
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(await answer.json()).toMatchObject({ error: 'auth_unavailable' });
  } finally {
    await relay.stop();
  }
});
