import { afterEach, describe, expect, test } from '@jest/globals';
import { get, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNginx, type RunningNginx } from '../support/nginx.js';
import { waitFor } from '../support/wait-for.js';

// nginx in front of a tiny text/event-stream upstream, configured by the real nginx/location-snippet.conf.
// The upstream deliberately omits `X-Accel-Buffering: no`, so only the snippet keeps nginx from buffering.

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function upstream(handler: Handler): Promise<number> {
  const server: Server = createServer(handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  cleanups.push(() => new Promise<void>((ok) => (server.closeAllConnections(), server.close(() => ok()))));
  return (server.address() as AddressInfo).port;
}

async function nginx(upstreamPort: number, proxyReadTimeout?: string): Promise<RunningNginx> {
  const running = await startNginx(proxyReadTimeout === undefined ? { upstreamPort } : { upstreamPort, proxyReadTimeout });
  cleanups.push(() => running.stop());
  return running;
}

function streamHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
}

/** Opens /events through nginx (asking for gzip, which must not be applied) and collects what arrives. */
function openStream(port: number): Promise<{ res: IncomingMessage; chunks: string[]; ended: Promise<'end' | 'cut'> }> {
  return new Promise((resolveOpen, rejectOpen) => {
    const req = get({ host: '127.0.0.1', port, path: '/events?topic=t', headers: { accept: 'text/event-stream', 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: string[] = [];
      res.setEncoding('utf8').on('data', (chunk: string) => chunks.push(chunk));
      const ended = new Promise<'end' | 'cut'>((done) => {
        res.once('end', () => done(res.complete ? 'end' : 'cut'));
        res.once('error', () => done('cut'));
        res.once('aborted', () => done('cut'));
      });
      cleanups.push(async () => void req.destroy());
      resolveOpen({ res, chunks, ended });
    });
    req.once('error', rejectOpen);
    // nginx buffering a response can hold even its headers back: fail fast with a reason, not at the test timeout.
    req.setTimeout(5_000, () => req.destroy(new Error('no response headers through nginx within 5 s (buffering?)')));
  });
}

describe('nginx with location-snippet.conf', () => {
  test('passes each event through before the next one is written (no buffering, no gzip)', async () => {
    const writes: ((text: string) => void)[] = [];
    const port = await upstream((_req, res) => (streamHead(res), writes.push((text) => res.write(text))));
    const { port: nginxPort } = await nginx(port);
    const { res, chunks } = await openStream(nginxPort);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['x-accel-buffering']).toBeUndefined();
    const write = writes[0];
    if (write === undefined) throw new Error('the upstream never saw the request');
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const frame = `id: ${i}\ndata: event ${i}\n\n`;
      const writtenAt = Date.now();
      write(frame);
      await waitFor(() => chunks.join('').endsWith(frame), `event ${i} arriving through nginx`, { timeoutMs: 2_000, everyMs: 5 });
      latencies.push(Date.now() - writtenAt);
    }
    expect(chunks.join('')).toBe([0, 1, 2, 3, 4].map((i) => `id: ${i}\ndata: event ${i}\n\n`).join(''));
    console.log(`nginx pass-through latency per event (ms): ${latencies.join(', ')}`);
  });

  test('a stream with a chunk every 500 ms outlives a 2 s proxy_read_timeout', async () => {
    const port = await upstream((_req, res) => {
      streamHead(res);
      let sent = 0;
      const timer = setInterval(() => {
        res.write(`: heartbeat ${++sent}\n\n`);
        if (sent === 9) {
          clearInterval(timer);
          res.end();
        }
      }, 500);
      res.once('close', () => clearInterval(timer));
    });
    const { port: nginxPort } = await nginx(port, '2s');
    const started = Date.now();
    const { chunks, ended } = await openStream(nginxPort);
    expect(await ended).toBe('end');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
    expect(chunks.join('')).toContain(': heartbeat 9\n\n');
  });

  test('a silent stream is cut by the 2 s proxy_read_timeout', async () => {
    const port = await upstream((_req, res) => {
      streamHead(res);
      res.write('retry: 1000\n\n');
      // Then nothing: the connection stays open until the test's cleanup closes it.
    });
    const { port: nginxPort } = await nginx(port, '2s');
    const started = Date.now();
    const { chunks, ended } = await openStream(nginxPort);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([ended, new Promise<'open'>((r) => (timer = setTimeout(() => r('open'), 6_000)))]);
    clearTimeout(timer);
    const elapsed = Date.now() - started;
    expect(outcome).toBe('cut');
    expect(elapsed).toBeGreaterThanOrEqual(1_500);
    expect(elapsed).toBeLessThan(5_000);
    expect(chunks.join('')).toBe('retry: 1000\n\n');
    console.log(`silent stream cut by nginx after ${elapsed} ms (proxy_read_timeout 2s)`);
  });
});
