import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';
import { hsToken, rawExchange, startSecureRelay, type Relay } from './support.js';

/** Every byte has a deadline: headers and bodies within REQUEST_TIMEOUT_MS; refused bodies are never drained. */

const TIMEOUT_MS = 1_500;
const STALLED = 500;
const TRICKLING = 50;
const MEMORY_BOUND_BYTES = 64 * 1024 * 1024;

let open: Relay;
let secure: Relay;

beforeAll(async () => {
  const env = { REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), MAX_BODY_BYTES: '131072', PUBLISH_RATE_PER_MINUTE: '0', MAX_CONNECTIONS_PER_CLIENT: '1000' };
  open = await startSecureRelay({ ...env, AUTH_MODE: 'none' });
  secure = await startSecureRelay(env);
});
afterAll(async () => {
  await open?.stop();
  await secure?.stop();
});

interface Watched {
  socket: Socket;
  /** Epoch ms at which the server closed the connection, and what it said. */
  closed: Promise<{ at: number; said: string }>;
}

const HEAD = Buffer.from('POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 131072\r\n\r\n{"topic":"a","data":"');
// One buffer shared by every client, so the clients' own memory stays out of the picture.
const BODY = Buffer.alloc(60_000, 'x');

/** Sends the headers of a 128 KiB publish and `initial` bytes of its body; the caller decides what follows. */
function startPublish(port: number, initial: number): Watched {
  const socket = connect(port, '127.0.0.1');
  let said = '';
  socket.on('data', (chunk: Buffer) => (said += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<{ at: number; said: string }>((resolve) => socket.on('close', () => resolve({ at: Date.now(), said })));
  socket.write(HEAD);
  socket.write(BODY.subarray(0, initial));
  return { socket, closed };
}

/** Resident memory of a process, bytes (from /proc). */
function rssOf(pid: number): number {
  const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib) * 1024;
}

describe('request deadlines (REQUEST_TIMEOUT_MS)', () => {
  it(`closes ${STALLED} stalled and ${TRICKLING} trickling publish bodies within the bound, with bounded memory`, async () => {
    // The server in its own process, so its resident memory is measured alone.
    const server: ServerProcess = await startServerProcess({ REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), MAX_CONNECTIONS_PER_CLIENT: '1000' });
    const rssBefore = rssOf(server.pid);
    let rssPeak = rssBefore;
    const sample = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(server.pid))), 50);
    const started = Date.now();
    const stalled = Array.from({ length: STALLED }, () => startPublish(server.port, 60_000));
    const trickling = Array.from({ length: TRICKLING }, () => startPublish(server.port, 100));
    // One byte every 100 ms: the body would take hours, every byte arrives in time for an idle-timeout, not for a deadline.
    const drip = setInterval(() => trickling.forEach((w) => w.socket.writable && w.socket.write('x')), 100);
    try {
      const outcomes = await Promise.all([...stalled, ...trickling].map((w) => w.closed));
      const rssGrowth = rssPeak - rssBefore;
      const latest = Math.max(...outcomes.map((o) => o.at)) - started;
      console.info(`${STALLED} stalled + ${TRICKLING} trickling bodies all closed after ${latest} ms (bound ${TIMEOUT_MS} ms + check interval); server RSS growth at peak ${(rssGrowth / 1048576).toFixed(1)} MB`);
      expect(outcomes.every((o) => /^HTTP\/1\.1 408 /.test(o.said))).toBe(true);
      expect(latest).toBeLessThan(TIMEOUT_MS * 2 + 2_000);
      expect(rssGrowth).toBeLessThan(MEMORY_BOUND_BYTES);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      clearInterval(drip);
      clearInterval(sample);
      await server.kill();
    }
  });

  it('a stream is not cut by the deadline once its headers are sent', async () => {
    const reader = new SseReader(`${open.url}/events?topic=long`);
    await reader.until((r) => r.retries.length > 0);
    // Time is the subject: the header deadline must pass, twice over, on an open stream. It runs on node:http's own
    // timers and sockets, which fake timers cannot drive, and nothing else marks that moment.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 2));
    await fetch(`${open.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"long","data":"still here"}' });
    await reader.until((r) => r.events.length === 1);
    expect(reader.events.map((e) => e.data)).toEqual(['still here']);
    reader.close();
  });

  // node:http ends an idle keep-alive connection only once its answers are out, and its request timeout only counts
  // until a request is in: a client that pipelines and never reads held its connection, and the answers node:http could
  // not hand to the kernel, for ever (5 such clients: open after 150 s, 15 MB of the server's memory).
  it('a client that pipelines requests and never reads the answers is cut off', async () => {
    // The server's end of this client's connection, told from the others by the client's port.
    const accepted: Socket[] = [];
    const onConnection = (serverSide: Socket): number => accepted.push(serverSide);
    open.server.on('connection', onConnection);
    const socket = connect(open.port, '127.0.0.1');
    socket.pause();
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    // 600 answers of the 18 KB client script: more than the kernel's buffers of both ends hold on loopback.
    socket.write('GET /sse-client.js HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(600));
    const serverSide = await waitFor(() => accepted.find((s) => s.remotePort === socket.localPort), 'the server to accept the connection');
    open.server.off('connection', onConnection);
    await waitFor(() => serverSide.destroyed, 'the server to close the connection of a client that does not read', TIMEOUT_MS * 6);
    let answers = 0;
    socket.on('data', (chunk: Buffer) => (answers += chunk.toString('latin1').split('HTTP/1.1 200').length - 1));
    socket.resume();
    await closed;
    expect(answers).toBeLessThan(600);
  });

  it('headers that never finish get 408 and a closed connection', async () => {
    const raw = await rawExchange(open.port, 'GET /events?topic=a HTTP/1.1\r\nHost: x\r\nX-Slow: ', () => false, TIMEOUT_MS * 4);
    expect(raw).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe('bodies the server refuses are not drained', () => {
  it('an unauthenticated publish is refused from its headers, before its body, and the connection closes', async () => {
    const watched = startPublish(secure.port, 100);
    const { said } = await watched.closed;
    expect(said).toMatch(/^HTTP\/1\.1 401 /);
  });

  it('a token that may publish nowhere is refused (403) before the body is read', async () => {
    const token = await hsToken({ sse: { subscribe: ['*'] } });
    const raw = await rawExchange(secure.port, `POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 131072\r\n\r\n{`);
    expect(raw).toMatch(/^HTTP\/1\.1 403 /);
  });

  it('a chunked body past MAX_BODY_BYTES gets 413 and the connection closes while the client is still sending', async () => {
    const socket = connect(open.port, '127.0.0.1');
    let said = '';
    socket.on('data', (chunk: Buffer) => (said += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
    let sent = 0;
    // Up to 64 MiB, far more than the server should ever read; it must close long before.
    const pump = setInterval(() => {
      for (let i = 0; i < 16 && socket.writable; i++) {
        socket.write(chunk);
        sent += 0x4000;
      }
    }, 5);
    const stop = setTimeout(() => socket.destroy(), 15_000);
    await closed;
    clearInterval(pump);
    clearTimeout(stop);
    expect(said).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });
});
