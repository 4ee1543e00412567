import { afterAll, describe, expect, it } from '@jest/globals';
import { execSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { EventSource } from 'eventsource';
import { SseReader } from '../support/sse-reader.js';
import { metric, startSecureRelay, type Relay } from './support.js';
import { waitFor } from '../support/wait-for.js';

const IDLE_CONNECTIONS = 2_000;
/** Stated bound: the server's resident memory grows less than this while 10 MB go to a client that never reads. */
const MEMORY_BOUND_BYTES = 64 * 1024 * 1024;

const relays: Relay[] = [];
afterAll(async () => {
  for (const relay of relays) await relay.stop();
});

async function start(env: Record<string, string>): Promise<Relay> {
  const relay = await startSecureRelay({ AUTH_MODE: 'none', PUBLISH_RATE_PER_MINUTE: '0', ...env });
  relays.push(relay);
  return relay;
}

/** Publishes `data` on `topic`, or `rawBody` (already serialized JSON) as is. */
function publish(url: string, topic: string, data: string, rawBody?: string): Promise<number> {
  const body = rawBody ?? JSON.stringify({ topic, data });
  return fetch(`${url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    .then(async (response) => (await response.arrayBuffer(), response.status));
}

/** Opens a raw subscription; resolves once its response head arrived (the socket is then left alone). */
function openIdle(port: number, topic: string): Promise<{ socket: Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let head = '';
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) resolve({ socket, head });
    });
    socket.write(`GET /events?topic=${topic} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

describe('exhaustion', () => {
  it(`holds ${IDLE_CONNECTIONS} idle streams open while a normal client receives every event`, async () => {
    const limit = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim());
    // Both ends live in this process: two descriptors per connection, plus headroom.
    expect(Number.isNaN(limit) || limit > IDLE_CONNECTIONS * 2 + 200).toBe(true);
    const relay = await start({ MAX_CONNECTIONS_PER_CLIENT: String(IDLE_CONNECTIONS + 10), HEARTBEAT_MS: '1000' });
    const idle: { socket: Socket; head: string }[] = [];
    try {
      for (let batch = 0; batch < IDLE_CONNECTIONS / 200; batch++) {
        idle.push(...(await Promise.all(Array.from({ length: 200 }, (_, i) => openIdle(relay.port, `idle-${(batch * 200 + i) % 50}`)))));
      }
      expect(idle.every((c) => c.head.startsWith('HTTP/1.1 200 '))).toBe(true);
      const reader = new SseReader(`${relay.url}/events?topic=live`);
      await reader.until((r) => r.retries.length > 0);
      expect(await metric(relay.url, 'sse_connections_open')).toBe(IDLE_CONNECTIONS + 1);
      const sent = Array.from({ length: 200 }, (_, i) => `event ${i}`);
      for (const data of sent) expect(await publish(relay.url, 'live', data)).toBe(202);
      await reader.until((r) => r.events.length === sent.length, 10_000);
      expect(reader.events.map((e) => e.data)).toEqual(sent);
      expect(idle.every((c) => !c.socket.destroyed)).toBe(true);
      reader.close();
    } finally {
      for (const { socket } of idle) socket.destroy();
    }
  }, 60_000);

  it('cuts off a client that never reads while 10 MB go to its topic; memory stays bounded; others keep receiving', async () => {
    const relay = await start({ CONNECTION_BUFFER_BYTES: '262144', MEMORY_BUFFER_SIZE: '16' });
    const stalled = connect(relay.port, '127.0.0.1');
    stalled.on('error', () => undefined);
    stalled.write('GET /events?topic=flood HTTP/1.1\r\nHost: x\r\n\r\n');
    stalled.pause();
    // The healthy client keeps nothing but a count, so the measurement is mostly the server's memory.
    const payload = 'x'.repeat(64_000);
    let received = 0;
    let intact = true;
    const healthy = new EventSource(`${relay.url}/events?topic=flood`);
    healthy.onmessage = (e) => ((received += 1), (intact &&= e.data === payload));
    await new Promise((resolve) => (healthy.onopen = resolve));
    const body = JSON.stringify({ topic: 'flood', data: payload });
    const before = process.memoryUsage().rss;
    let peak = before;
    const count = 164; // 10.5 MB
    for (let i = 0; i < count; i++) {
      expect(await publish(relay.url, 'flood', '', body)).toBe(202);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    await waitFor(() => received >= count, () => `${count} events on the reading client (got ${received})`, { timeoutMs: 20_000, everyMs: 20 }).catch(() => undefined);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(received).toBe(count);
    expect(intact).toBe(true);
    expect(await metric(relay.url, 'sse_slow_consumer_disconnects_total')).toBe(1);
    expect(await metric(relay.url, 'sse_connections_open')).toBe(1);
    // The figure the docs quote; printed so a run shows the margin.
    console.info(`RSS growth while flooding a stalled client with 10.5 MB: ${((peak - before) / 1048576).toFixed(1)} MB (bound 64 MB)`);
    expect(peak - before).toBeLessThan(MEMORY_BOUND_BYTES);
    healthy.close();
    stalled.destroy();
  }, 60_000);
});
