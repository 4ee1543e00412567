import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventSource } from 'eventsource';
import { connect } from 'node:net';
import { epochOf, publish, startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

let relay: Awaited<ReturnType<typeof startRelay>>;

beforeAll(async () => {
  relay = await startRelay({ HEARTBEAT_MS: '300', RETRY_MS: '100', MAX_SESSION_MS: '1500', MEMORY_BUFFER_SIZE: '500' });
});
afterAll(async () => relay.stop());

describe('GET /events over real HTTP', () => {
  it('sends the SSE headers at once, before any message', async () => {
    const reader = new SseReader(`${relay.url}/events?topic=quiet`);
    await reader.until((r) => r.retries.length === 1);
    expect(reader.status).toBe(200);
    expect(reader.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(reader.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(reader.headers.get('x-accel-buffering')).toBe('no');
    expect(reader.events).toHaveLength(0);
    reader.close();
  });

  it('delivers published events with their types and multi-line data to an EventSource', async () => {
    const es = new EventSource(`${relay.url}/events?topic=t1`);
    const got: { type: string; data: string; id: string }[] = [];
    const done = new Promise<void>((resolve) => {
      const record = (e: MessageEvent) => {
        got.push({ type: e.type, data: e.data as string, id: e.lastEventId });
        if (got.length === 3) resolve();
      };
      es.addEventListener('message', record);
      es.addEventListener('alert', record);
    });
    await new Promise<void>((resolve) => (es.onopen = () => resolve()));
    const first = await publish(relay.url, { topic: 't1', data: 'plain' });
    expect(first.status).toBe(202);
    const epoch = epochOf(first.json['id']);
    await publish(relay.url, { topic: 't1', data: 'line 1\r\nline 2\rline 3\nline 4', event: 'alert' });
    await publish(relay.url, { topic: 't1', data: { json: true, n: 1 } });
    await done;
    es.close();
    expect(got).toEqual([
      { type: 'message', data: 'plain', id: `t1=${epoch}-1` },
      { type: 'alert', data: 'line 1\nline 2\nline 3\nline 4', id: `t1=${epoch}-2` },
      { type: 'message', data: '{"json":true,"n":1}', id: `t1=${epoch}-3` },
    ]);
  });

  it('resumes after a disconnect from Last-Event-ID (header or query) with no gap and no duplicate', async () => {
    const first = new SseReader(`${relay.url}/events?topic=t2`);
    await first.until((r) => r.retries.length > 0);
    for (let i = 1; i <= 3; i++) await publish(relay.url, { topic: 't2', data: `m${i}` });
    await first.until((r) => r.events.length === 3);
    first.close();
    for (let i = 4; i <= 6; i++) await publish(relay.url, { topic: 't2', data: `m${i}` });
    const viaHeader = new SseReader(`${relay.url}/events?topic=t2`, { 'last-event-id': first.ids.at(-1) as string });
    const viaQuery = new SseReader(`${relay.url}/events?topic=t2&lastEventId=${encodeURIComponent(first.ids.at(-1) as string)}`);
    await viaHeader.until((r) => r.events.length === 3);
    await viaQuery.until((r) => r.events.length === 3);
    await publish(relay.url, { topic: 't2', data: 'm7' });
    await viaHeader.until((r) => r.events.length === 4);
    expect([...first.events, ...viaHeader.events].map((e) => e.data)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    expect(viaQuery.events.slice(0, 3).map((e) => e.data)).toEqual(['m4', 'm5', 'm6']);
    viaHeader.close();
    viaQuery.close();
  });

  it('keeps a browser-style EventSource gapless across server-ended sessions (MAX_SESSION_MS) while publishing', async () => {
    const es = new EventSource(`${relay.url}/events?topic=t3`);
    const seen: string[] = [];
    let opens = 0;
    es.onopen = () => (opens += 1);
    es.onmessage = (e) => seen.push(e.data as string);
    await new Promise<void>((resolve) => es.addEventListener('open', () => resolve(), { once: true }));
    const sent: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let i = 0; publishing; i++) {
        sent.push(`n${i}`);
        await publish(relay.url, { topic: 't3', data: `n${i}` });
        await new Promise((r) => setTimeout(r, 20)); // a publish rate (about 50/s), not a wait
      }
    })();
    // Publishing goes on until the server has ended two 1.5 s sessions and the EventSource has resumed twice.
    await waitFor(() => opens >= 3, 'two server-ended sessions resumed while publishing', 10_000).finally(() => (publishing = false));
    await publisher;
    await waitFor(() => seen.length >= sent.length, 'every published event', { timeoutMs: 5_000, everyMs: 50 }).catch(() => undefined);
    es.close();
    expect(opens).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(sent);
  });

  it('sends heartbeat comments on a quiet stream', async () => {
    const socket = connect(relay.port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.write('GET /events?topic=silent HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => text.includes(': heartbeat\n\n'), 'a heartbeat comment', { timeoutMs: 3_000, everyMs: 50 }).catch(() => undefined);
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    // RETRY_MS=100, jittered per stream over [50, 150).
    expect(Number(/\nretry: (\d+)\n\n/.exec(text)?.[1])).toBeGreaterThanOrEqual(50);
    expect(Number(/\nretry: (\d+)\n\n/.exec(text)?.[1])).toBeLessThan(150);
    expect(text).toContain(': heartbeat\n\n');
  });

  it('serves health, readiness, metrics and the demo page', async () => {
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${relay.url}/readyz`)).json()).toEqual({ status: 'ready' });
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    for (const name of ['sse_connections_open', 'sse_events_published_total', 'sse_events_delivered_total', 'sse_bytes_written_total', 'sse_slow_consumer_disconnects_total', 'sse_replays_total']) {
      expect(metrics).toMatch(new RegExp(`^${name} \\d+$`, 'm'));
    }
    const page = await fetch(`${relay.url}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="/demo.js">');
    expect((await fetch(`${relay.url}/sse-client.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });
});
