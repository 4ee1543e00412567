import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

// Clients that stop reading, each on a topic set of its own (so no two share a frame buffer), under a steady flow of
// messages: CONNECTION_BUFFER_BYTES (32 MiB here) bounds each one, but not all of them together. OVERLOAD_MEMORY_BYTES
// bounds the process: past it the largest backlogs are cut and new streams refused until memory is back under it.
const STALLED = 30;
const LIMIT = 40 * 1_048_576;
const MESSAGES = 500;
const DATA = 'x'.repeat(32 * 1024);

let server: ServerProcess;

beforeAll(async () => {
  server = await startServerProcess({
    SOURCE: 'memory', OVERLOAD_MEMORY_BYTES: String(LIMIT), CONNECTION_BUFFER_BYTES: String(32 * 1_048_576),
    MAX_CONNECTIONS_PER_CLIENT: '1000', MEMORY_MAX_BYTES: String(8 * 1_048_576), MEMORY_BUFFER_SIZE: '100', REPLAY_MAX: '0',
    OVERLOAD_LAG_MS: '0',
  });
});

afterAll(async () => {
  await server?.kill('SIGKILL');
});

/** Peak and current resident memory of the server process, MiB (from /proc: VmHWM, VmRSS). */
function residentMiB(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** A subscriber that sends its request and never reads. */
function stalled(path: string): Socket {
  const socket = connect({ port: server.port, host: '127.0.0.1' });
  socket.pause();
  socket.on('error', () => undefined);
  socket.once('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`));
  return socket;
}

test('clients that stop reading cannot take the process past OVERLOAD_MEMORY_BYTES; a reader that keeps up loses nothing', async () => {
  const before = residentMiB(server.pid);
  const reader = new SseReader(`${server.url}/events?topic=big`);
  await reader.until((r) => r.status === 200 && r.retries.length > 0);
  const clients = Array.from({ length: STALLED }, (_, i) => stalled(`/events?topic=big,only${i}`));
  await waitFor(async () => (await metric('sse_connections_open')) === STALLED + 1, 'every stream open');
  // 50 messages a second: 32 KiB × 31 topic sets, 51 MB a second queued in all while no stalled client reads.
  for (let i = 0; i < MESSAGES; i++) {
    const response = await fetch(`${server.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'big', data: `${i} ${DATA}` }) });
    expect(response.status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await reader.until((r) => r.events.length === MESSAGES, 20_000);
  expect(reader.events.map((e) => Number(e.data.split(' ')[0]))).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
  const shed = await metric('sse_memory_shed_streams_total');
  const after = residentMiB(server.pid);
  console.log(`memory pressure: ${shed} of ${STALLED} stalled streams cut; resident ${before.now.toFixed(0)} MiB before, peak ${after.peak.toFixed(0)} MiB (limit on heap + Buffers ${LIMIT / 1_048_576} MiB)`);
  expect(shed).toBeGreaterThan(0);
  // Without the bound the process grew by about 400 MiB here (the stalled streams' backlogs); with it by 80–85 MiB:
  // the limit counts V8's heap and Buffers, the resident size adds what the allocator keeps and what was not yet collected.
  expect(after.peak - before.now).toBeLessThan(LIMIT / 1_048_576 + 80);
  // Memory back under the limit: new streams are accepted again.
  await waitFor(async () => (await metric('sse_memory_over_limit')) === 0, 'memory back under the limit', 10_000);
  const next = new SseReader(`${server.url}/events?topic=big`);
  await next.until((r) => r.status === 200 && r.retries.length > 0);
  expect(next.comments.some((c) => c.includes('overloaded'))).toBe(false);
  next.close();
  reader.close();
  clients.forEach((socket) => socket.destroy());
}, 60_000);
