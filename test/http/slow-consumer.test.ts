import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { publish, startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

let relay: Awaited<ReturnType<typeof startRelay>>;

beforeAll(async () => {
  relay = await startRelay({ CONNECTION_BUFFER_BYTES: '262144', MAX_MESSAGE_BYTES: '1048576', MAX_BODY_BYTES: '2097152' });
});
afterAll(async () => relay.stop());

it('cuts off a client that never reads, counts it, and keeps every other client served', async () => {
  // A client that sends its request and then never reads: its socket buffers fill, then the server's bound trips.
  const stalled: Socket = connect({ port: relay.port, host: '127.0.0.1' });
  stalled.on('error', () => undefined);
  stalled.write('GET /events?topic=flood HTTP/1.1\r\nHost: x\r\n\r\n');
  stalled.pause();
  const reader = new SseReader(`${relay.url}/events?topic=flood`);
  await reader.until((r) => r.retries.length > 0);
  await waitFor(() => relay.app.metrics.get('sse_connections_open') === 2, 'the stalled client\'s stream open too');
  const payload = 'x'.repeat(500_000);
  const count = 60; // 30 MB: more than loopback socket buffers can absorb
  for (let i = 0; i < count; i++) await publish(relay.url, { topic: 'flood', data: payload });
  await reader.until((r) => r.events.length === count, 20_000);
  const metrics = await (await fetch(`${relay.url}/metrics`)).text();
  expect(metrics).toMatch(/^sse_slow_consumer_disconnects_total 1$/m);
  expect(metrics).toMatch(/^sse_connections_open 1$/m);
  expect(reader.events.every((e) => e.data === payload)).toBe(true);
  reader.close();
  stalled.destroy();
}, 60_000);
