import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { get, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { createGunzip, gunzipSync } from 'node:zlib';
import { createParser } from 'eventsource-parser';
import { publish, startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

type Relay = Awaited<ReturnType<typeof startRelay>>;
// RETRY_MS=0: every `retry:` (first and final, jitter of 0 is 0) is the same on every stream, so streams compare exactly.
const GZIP_ENV = { COMPRESSION: 'gzip', RETRY_MS: '0', SHUTDOWN_DRAIN_MS: '0', HEARTBEAT_MS: '3600000', MAX_MESSAGE_BYTES: '1048576', MAX_BODY_BYTES: '2097152' };

/** One stream read with node:http, which removes the chunked framing but not the content coding: the body as sent. */
class RawStream {
  readonly chunks: Buffer[] = [];
  headers: IncomingHttpHeaders = {};
  /** What a gzip-decoding client has decoded so far, chunk by chunk as they arrive (the raw bytes when plain). */
  decoded = '';
  readonly ended: Promise<void>;
  response: IncomingMessage | undefined;

  constructor(relay: Relay, path: string, headers: Record<string, string>, options: { paused?: boolean } = {}) {
    this.ended = new Promise((resolve, reject) => {
      get(`${relay.url}${path}`, { headers, agent: false }, (res) => {
        this.response = res;
        this.headers = res.headers;
        const gunzip = res.headers['content-encoding'] === 'gzip' ? createGunzip() : undefined;
        gunzip?.on('data', (text: Buffer) => { this.decoded += text.toString('utf8'); });
        res.on('data', (chunk: Buffer) => {
          this.chunks.push(chunk);
          if (gunzip === undefined) this.decoded += chunk.toString('utf8');
          else gunzip.write(chunk);
        });
        res.on('end', () => (gunzip === undefined ? resolve() : gunzip.end(() => resolve())));
        res.on('error', reject);
        if (options.paused === true) res.pause();
      }).on('error', reject);
    });
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * `bytes` through createGunzip in pieces of pseudo-random sizes (a fixed sequence from `seed`): a third of them 1 to 16
 * bytes, so boundaries fall inside headers, blocks and the trailer, the rest up to 4 KiB. Decoded as UTF-8.
 */
async function gunzipInPieces(bytes: Buffer, seed: number): Promise<string> {
  const gunzip = createGunzip();
  const out: Buffer[] = [];
  gunzip.on('data', (chunk: Buffer) => out.push(chunk));
  const finished = new Promise<void>((resolve, reject) => gunzip.on('end', resolve).on('error', reject));
  let state = seed;
  for (let at = 0; at < bytes.byteLength;) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const size = 1 + (state % 3 === 0 ? state % 16 : state % 4_096);
    gunzip.write(bytes.subarray(at, at + size));
    at += size;
  }
  gunzip.end();
  await finished;
  return Buffer.concat(out).toString('utf8');
}

const hasPosition = (stream: RawStream): boolean => stream.decoded.includes('id: ');
// A stream's heartbeats follow its own slot (lib/engine/heartbeat-slots.ts): one may come seconds after it opens, even
// with an hour's period, so two streams of one topic set differ by them and by nothing else.
const withoutHeartbeats = (text: string): string => text.replaceAll(': heartbeat\n\n', '');

describe('COMPRESSION=gzip', () => {
  let relay: Relay;
  // A small bound, so the slow consumer below is cut after a few hundred KiB.
  beforeAll(async () => { relay = await startRelay({ ...GZIP_ENV, CONNECTION_BUFFER_BYTES: '262144' }); });
  let own: Relay | undefined;
  afterAll(async () => Promise.all([relay.stop(), own?.stop()]));

  it('sends the very bytes of the plain stream, gzip-encoded, to every topic set, across replay, live and the final retry', async () => {
    // Its own relay (stopped at the end, to end every stream), with room for a jest process that reads late under load.
    const relay = (own = await startRelay({ ...GZIP_ENV, CONNECTION_BUFFER_BYTES: '67108864' }));
    // History for the resuming streams: two messages on `a` before anyone subscribes.
    const first = await publish(relay.url, { topic: 'a', data: 'history one' });
    await publish(relay.url, { topic: 'a', data: 'history two\nwith a second line' });
    const sets = ['a', 'a&topic=b', 'b&topic=c', 'a&topic=b&topic=c'];
    const paths = [...sets.map((set) => `/events?topic=${set}`), `/events?topic=a&lastEventId=a%3D${String(first.json['id'])}`];
    const plain = paths.map((path) => new RawStream(relay, path, {}));
    const gzipped = paths.map((path) => [1, 2].map(() => new RawStream(relay, path, { 'accept-encoding': 'gzip' })));
    await waitFor(() => [...plain, ...gzipped.flat()].every(hasPosition), 'every stream live (its position frame)');

    // Small frames (stored), large ones (deflated, joined several per turn), incompressible ones, many lines, non-ASCII.
    const payloads = [
      'x', 'ünïcødé ✓ 漢字', 'line one\nline two\r\nline three', 'y'.repeat(20_000), randomBytes(30_000).toString('base64'),
      JSON.stringify({ n: 1, text: 'abc '.repeat(500) }), '',
    ];
    for (let round = 0; round < 6; round++) {
      await Promise.all(['a', 'b', 'c'].flatMap((topic) =>
        payloads.map((data, i) => publish(relay.url, { topic, data: `${round}:${i}:${data}`, event: i % 2 === 0 ? 'message' : 'other' }))));
    }
    await Promise.all(['a', 'b', 'c'].map((topic) => publish(relay.url, { topic, data: `last of ${topic}` })));
    await waitFor(() => plain.every((s) => s.decoded.includes('last of ')), 'the last messages on every plain stream');
    own = undefined;
    await relay.stop();
    await Promise.all([...plain, ...gzipped.flat()].map((s) => s.ended));

    plain.forEach((reference, i) => {
      expect(reference.headers['content-encoding']).toBeUndefined();
      expect(reference.headers['vary']).toMatch(/Accept-Encoding/);
      expect(reference.decoded).toMatch(/^retry: 0\n\n/);
      expect(reference.decoded).toMatch(/\nid: [^\n]+\n\nretry: 0\n\n$/);
      if (i === sets.length) expect(reference.decoded).toContain('data: history two\ndata: with a second line\n');
    });
    for (const [i, streams] of gzipped.entries()) {
      const reference = withoutHeartbeats((plain[i] as RawStream).decoded);
      for (const [k, stream] of streams.entries()) {
        expect(stream.headers['content-encoding']).toBe('gzip');
        expect(stream.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
        // gunzipSync checks the trailer's CRC-32 and length; the pieces check that no boundary matters.
        const whole = gunzipSync(stream.body).toString('utf8');
        expect(withoutHeartbeats(whole)).toBe(reference);
        expect(await gunzipInPieces(stream.body, 7 + i * 10 + k)).toBe(whole);
        expect(stream.decoded).toBe(whole);
      }
    }
  }, 60_000);

  it('decodes each event as soon as it is sent, while the stream stays open (a flush per write)', async () => {
    const stream = new RawStream(relay, '/events?topic=live', { 'accept-encoding': 'gzip' });
    await waitFor(() => hasPosition(stream), 'the stream live');
    for (let i = 0; i < 5; i++) {
      await publish(relay.url, { topic: 'live', data: `event ${i}` });
      await waitFor(() => stream.decoded.includes(`data: event ${i}\n\n`), `event ${i} decoded before the stream ends`);
    }
    stream.response?.destroy();
  });

  it('cuts a slow consumer with a complete gzip member: what it got decodes to the first events, then retry', async () => {
    const stalled = new RawStream(relay, '/events?topic=flood', { 'accept-encoding': 'gzip' }, { paused: true });
    await waitFor(() => stalled.response !== undefined, 'the stream open');
    // Incompressible payloads, so the compressed stream fills the socket buffers as fast as a plain one would. Read as
    // soon as it is cut: a cut stream whose client does not take its last bytes is destroyed after a grace of 5 s.
    const payloads: string[] = [];
    let cut = false;
    while (!cut && payloads.length < 80) {
      payloads.push(randomBytes(375_000).toString('base64'));
      await publish(relay.url, { topic: 'flood', data: payloads.at(-1) });
      cut = /^sse_slow_consumer_disconnects_total [1-9]/m.test(await (await fetch(`${relay.url}/metrics`)).text());
    }
    expect(cut).toBe(true);
    stalled.response?.resume();
    await stalled.ended;
    // gunzipSync checks the trailer: the cut stream is a complete gzip member.
    const text = gunzipSync(stalled.body).toString('utf8');
    const events: string[] = [];
    const retries: number[] = [];
    createParser({ onEvent: (e) => void events.push(e.data), onRetry: (r) => void retries.push(r) }).feed(text);
    expect(text.endsWith('\n\nretry: 0\n\n')).toBe(true);
    expect(retries).toEqual([0, 0]);
    expect(events.length).toBeLessThan(payloads.length);
    expect(events).toEqual(payloads.slice(0, events.length));
  }, 60_000);

  it('is decoded by fetch as any gzip response, events intact', async () => {
    const reader = new SseReader(`${relay.url}/events?topic=fetched`, { 'accept-encoding': 'gzip' });
    await reader.until((r) => r.retries.length > 0);
    await waitFor(() => reader.headers.get('content-encoding') === 'gzip', 'the gzip header');
    await publish(relay.url, { topic: 'fetched', data: 'α\nβ', event: 'greek' });
    await reader.until((r) => r.events.length === 1);
    expect(reader.events[0]).toMatchObject({ event: 'greek', data: 'α\nβ' });
    reader.close();
  });

  it.each([
    [undefined, false], ['gzip', true], ['gzip;q=0', false], ['br, gzip;q=0.5', true], ['*', true], ['*, gzip;q=0', false],
    ['identity', false], ['deflate, br', false], ['x-gzip', true], ['GZIP; Q=1.0', true], ['gzip;q=2', false],
  ])('Accept-Encoding %p → gzip %p, and Vary: Accept-Encoding either way', async (accept, gzip) => {
    const stream = new RawStream(relay, '/events?topic=negotiate', { ...(accept === undefined ? {} : { 'accept-encoding': accept }), origin: 'https://elsewhere.example' });
    await waitFor(() => stream.chunks.length > 0, 'the first bytes');
    expect(stream.headers['content-encoding']).toBe(gzip ? 'gzip' : undefined);
    // The CORS `Vary: Origin` and ours are joined, not one overwriting the other.
    expect(stream.headers['vary']).toBe('Accept-Encoding, Origin');
    const first = (stream.chunks[0] as Buffer).subarray(0, 2);
    if (gzip) expect(first).toEqual(Buffer.from([0x1f, 0x8b]));
    else expect(Buffer.concat(stream.chunks).toString('utf8')).toMatch(/^retry: 0\n\n/);
    stream.response?.destroy();
  });
});

describe('COMPRESSION unset (off)', () => {
  let relay: Relay;
  beforeAll(async () => { relay = await startRelay({ RETRY_MS: '0' }); });
  afterAll(async () => relay.stop());

  it('sends plain bytes to a client that asks for gzip, with no Vary on Accept-Encoding', async () => {
    const stream = new RawStream(relay, '/events?topic=off', { 'accept-encoding': 'gzip' });
    await waitFor(() => hasPosition(stream), 'the stream live');
    expect(stream.headers['content-encoding']).toBeUndefined();
    expect(stream.headers['vary']).toBe('Origin');
    expect(stream.decoded).toMatch(/^retry: 0\n\nid: off=\d{13}-0\n\n$/);
    stream.response?.destroy();
  });
});
