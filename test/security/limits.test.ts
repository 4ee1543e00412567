import { afterEach, describe, expect, it } from '@jest/globals';
import { SseReader } from '../support/sse-reader.js';
import { freePort } from '../support/redis-server.js';
import { hsToken, metric, startSecureRelay, type Relay } from './support.js';

let relay: Relay | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

async function start(env: Record<string, string>): Promise<Relay> {
  relay = await startSecureRelay({ AUTH_MODE: 'none', ...env });
  return relay;
}

function publishAs(url: string, token: string | undefined, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  return fetch(`${url}/publish`, { method: 'POST', headers, body: JSON.stringify(body) });
}

/** The first `id:` a stream sends (its position frame, once live), read from the raw text. */
async function firstId(streamUrl: string): Promise<string> {
  const response = await fetch(streamUrl);
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    const id = /^id: (.*)$/m.exec(text)?.[1];
    // Leaving the loop cancels the body, which closes the stream.
    if (id !== undefined && text.includes(`id: ${id}\n`)) return id;
  }
  throw new Error(`the stream ended without an id: ${text.slice(0, 200)}`);
}

describe('each limit answers with its code and counts in its metric', () => {
  it('MAX_TOPICS → 400 too_many_topics', async () => {
    const { url } = await start({ MAX_TOPICS: '2' });
    const response = await fetch(`${url}/events?topic=a,b,c`);
    expect([response.status, await response.json()]).toMatchObject([400, { error: 'too_many_topics' }]);
    expect(await metric(url, 'sse_http_errors_total', { code: 'too_many_topics', route: 'events' })).toBe(1);
  });

  // The id of a stream names a position in each of its topics. 60 topics of 128 characters were accepted with
  // MAX_TOPICS=100, and the stream's first id was 8,699 characters: past what Last-Event-ID may hold (8192), so the
  // reconnect that sent it back was refused (431, or 400 invalid_cursor) and the EventSource gave up for good.
  it('a topic set whose resume id could pass 8192 characters → 400 too_many_topics; one that fits resumes', async () => {
    const { url } = await start({ MAX_TOPICS: '100' });
    const topics = (count: number): string => Array.from({ length: count }, (_, i) => `topic=${`t${i}.`.padEnd(128, 'x')}`).join('&');
    for (const count of [60, 48]) {
      const refused = await fetch(`${url}/events?${topics(count)}`);
      const answer: unknown = refused.status === 200 ? await refused.body?.cancel().then(() => 'a stream') : await refused.json();
      expect([refused.status, answer]).toMatchObject([400, { error: 'too_many_topics', message: expect.stringContaining('8192') }]);
    }

    // 47 such topics fit (47 × (128 + 1 + 41) + 46 ≤ 8192, 41 being the longest position): the id comes back and resumes.
    const id = await firstId(`${url}/events?${topics(47)}`);
    expect(id.split(',')).toHaveLength(47);
    const resumed = await fetch(`${url}/events?${topics(47)}`, { headers: { 'last-event-id': id } });
    expect(resumed.status).toBe(200);
    await resumed.body?.cancel();
  });

  it('MAX_CONNECTIONS → 503 with Retry-After', async () => {
    const { url } = await start({ MAX_CONNECTIONS: '2' });
    const open = [new SseReader(`${url}/events?topic=a`), new SseReader(`${url}/events?topic=a`)];
    for (const reader of open) await reader.until((r) => r.retries.length > 0);
    const refused = await fetch(`${url}/events?topic=a`);
    expect([refused.status, await refused.json()]).toMatchObject([503, { error: 'too_many_connections' }]);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await metric(url, 'sse_http_errors_total', { code: 'too_many_connections', route: 'events' })).toBe(1);
    for (const reader of open) reader.close();
  });

  it('MAX_CONNECTIONS_PER_CLIENT → 429; with TRUST_PROXY the last X-Forwarded-For hop is the client', async () => {
    const { url } = await start({ MAX_CONNECTIONS_PER_CLIENT: '1', TRUST_PROXY: 'true' });
    const first = new SseReader(`${url}/events?topic=a`, { 'x-forwarded-for': '203.0.113.9, 198.51.100.1' });
    await first.until((r) => r.retries.length > 0);
    // Same last hop, a different (forgeable) first hop: still the same client.
    const same = await fetch(`${url}/events?topic=a`, { headers: { 'x-forwarded-for': '192.0.2.77, 198.51.100.1' } });
    expect([same.status, await same.json()]).toMatchObject([429, { error: 'rate_limited' }]);
    expect(Number(same.headers.get('retry-after'))).toBeGreaterThan(0);
    const other = new SseReader(`${url}/events?topic=a`, { 'x-forwarded-for': '198.51.100.2' });
    await other.until((r) => r.retries.length > 0);
    expect(other.status).toBe(200);
    expect(await metric(url, 'sse_http_errors_total', { code: 'rate_limited', route: 'events' })).toBe(1);
    first.close();
    other.close();
  });

  it('MAX_CONNECTIONS_PER_CLIENT counts an IPv6 client by its /64: another address of the same /64 is the same client', async () => {
    const { url } = await start({ MAX_CONNECTIONS_PER_CLIENT: '2', TRUST_PROXY: 'true' });
    const held = ['2001:db8:7:1::10', '2001:db8:7:1:ffff::20'].map((address) => new SseReader(`${url}/events?topic=a`, { 'x-forwarded-for': address }));
    for (const reader of held) await reader.until((r) => r.retries.length > 0);
    const sameNetwork = await fetch(`${url}/events?topic=a`, { headers: { 'x-forwarded-for': '2001:db8:7:1:abcd:1234:5678:9' } });
    expect([sameNetwork.status, await sameNetwork.json()]).toMatchObject([429, { error: 'rate_limited' }]);
    const nextNetwork = new SseReader(`${url}/events?topic=a`, { 'x-forwarded-for': '2001:db8:7:2::10' });
    await nextNetwork.until((r) => r.retries.length > 0);
    expect(nextNetwork.status).toBe(200);
    for (const reader of [...held, nextNetwork]) reader.close();
  });

  it('MAX_BODY_BYTES and MAX_MESSAGE_BYTES → 413', async () => {
    const { url } = await start({ MAX_BODY_BYTES: '1024', MAX_MESSAGE_BYTES: '100' });
    const body = await publishAs(url, undefined, { topic: 'a', data: 'x'.repeat(2_000) });
    expect([body.status, await body.json()]).toMatchObject([413, { error: 'body_too_large' }]);
    const message = await publishAs(url, undefined, { topic: 'a', data: 'x'.repeat(101) });
    expect([message.status, await message.json()]).toMatchObject([413, { error: 'message_too_large' }]);
    expect(await metric(url, 'sse_http_errors_total', { route: 'publish', code: 'body_too_large' }) + await metric(url, 'sse_http_errors_total', { route: 'publish', code: 'message_too_large' })).toBe(2);
  });

  it('PUBLISH_RATE_PER_MINUTE → 429 with Retry-After, per token subject', async () => {
    relay = await startSecureRelay({ PUBLISH_RATE_PER_MINUTE: '5' });
    const [alice, bob] = [await hsToken({ sub: 'alice' }), await hsToken({ sub: 'bob' })];
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await publishAs(relay.url, alice, { topic: 'a', data: 'x' })).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429]);
    const limited = await publishAs(relay.url, alice, { topic: 'a', data: 'x' });
    expect(await limited.json()).toMatchObject({ error: 'rate_limited' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await publishAs(relay.url, bob, { topic: 'a', data: 'x' })).status).toBe(202);
    expect(await metric(relay.url, 'sse_http_errors_total', { code: 'rate_limited', route: 'publish' })).toBe(3);
  });

  // A publish the relay could not store (its source down) is the server's failure, not the producer's: it used to spend
  // the producer's rate all the same, so a producer retrying through a Redis outage (as the publisher library does on
  // 503) met 429 rate_limited from its own retries once Redis was back.
  it('PUBLISH_RATE_PER_MINUTE: a publish refused 503 because the source is down does not spend the rate', async () => {
    relay = await startSecureRelay({
      PUBLISH_RATE_PER_MINUTE: '3', SOURCE: 'redis', REDIS_URL: `redis://127.0.0.1:${await freePort()}`, REDIS_BLOCK_MS: '200',
    });
    const token = await hsToken({ sub: 'producer' });
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await publishAs(relay.url, token, { topic: 'a', data: 'x' });
      answers.push(`${response.status} ${((await response.json()) as { error: string }).error}`);
    }
    expect(answers).toEqual(Array(6).fill('503 source_unavailable'));
  });

  it('PUBLISH_RATE_PER_MINUTE counts each token without a subject on its own, not every caller behind one address', async () => {
    // Behind an Ingress every publisher arrives from the controller's address, and `sse-relay token` sets no `sub`
    // unless asked: one busy backend must not throttle every other publisher of the cluster.
    relay = await startSecureRelay({ PUBLISH_RATE_PER_MINUTE: '3' });
    const [busy, quiet] = [await hsToken({ sub: undefined, jti: 'busy' }), await hsToken({ sub: undefined, jti: 'quiet' })];
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await publishAs(relay.url, busy, { topic: 'a', data: 'x' })).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    expect((await publishAs(relay.url, quiet, { topic: 'a', data: 'x' })).status).toBe(202);
    // The same token again is the same bucket, whatever transport it came in.
    expect((await fetch(`${relay.url}/publish?access_token=${busy}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"a","data":"x"}' })).status).toBe(429);
  });

  it('REPLAY_MAX bounds a replay: the newest REPLAY_MAX events after a reset event', async () => {
    const { url } = await start({ REPLAY_MAX: '3' });
    const positions: string[] = [];
    for (let i = 1; i <= 10; i++) positions.push(((await (await publishAs(url, undefined, { topic: 'r', data: `m${i}` })).json()) as { id: string }).id);
    // The first message's own position: this process's, so only REPLAY_MAX makes the reset.
    const reader = new SseReader(`${url}/events?topic=r`, { 'last-event-id': `r=${positions[0] ?? ''}` });
    await reader.until((r) => r.events.length === 4);
    reader.close();
    expect(reader.events.map((e) => e.event ?? e.data)).toEqual(['relay.reset', 'm8', 'm9', 'm10']);
    expect(reader.events.slice(1).map((e) => e.id)).toEqual(positions.slice(7).map((position) => `r=${position}`));
    expect(await metric(url, 'sse_resets_total')).toBe(1);
  });
});
