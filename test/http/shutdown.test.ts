import { expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { RecordingEventSource } from '../support/recording-event-source.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startServerProcess } from '../support/server-process.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

it('on SIGTERM fails readiness first, ends every stream with a retry, and exits within the drain window', async () => {
  const child = spawn(process.execPath, ['dist/functions/server.js'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', AUTH_MODE: 'none', SHUTDOWN_DRAIN_MS: '2000', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let log = '';
    child.stdout.on('data', (d) => (log += d.toString()));
    const port = await waitFor(() => /"port":(\d+)/.exec(log)?.[1], 'the server to log its port', { everyMs: 50 });
    const url = `http://127.0.0.1:${port}`;
    const streams = [new SseReader(`${url}/events?topic=a`), new SseReader(`${url}/events?topic=b`)];
    for (const s of streams) await s.until((r) => r.retries.length === 1);
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 503, '/readyz 503 after SIGTERM', { timeoutMs: 1_000, everyMs: 10 });
    expect((await fetch(`${url}/events?topic=c`)).status).toBe(503);
    await Promise.all(streams.map((s) => s.ended));
    for (const s of streams) expect(s.retries).toHaveLength(2); // the opening retry and the final, jittered one
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(3_000);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

it('memory source, SIGTERM then a restart on the same port while publishing: every EventSource gets every acknowledged message once, in order', async () => {
  // The restarted process numbers from 1 again: a drained stream must not resume at its old number (it would skip the
  // new process's first messages), and a message the draining process took would reach only its streams not yet closed.
  const env = { SHUTDOWN_DRAIN_MS: '1500', DRAIN_RATE_PER_S: '10', RETRY_MS: '200' };
  let relay = await startServerProcess(env);
  const { port, url } = relay;
  const readers = Array.from({ length: 10 }, () => new RecordingEventSource(`${url}/events?topic=m`, 'm'));
  try {
    await waitFor(() => readers.every((r) => r.opens.length === 1), 'every EventSource open', { timeoutMs: 5_000, everyMs: 20 });
    let acknowledged = 0;
    const statuses = new Set<string>();
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        // Sent again until acknowledged: refused while draining, unreachable while restarting.
        const answer = await publish(url, { topic: 'm', data: { seq: acknowledged } }).catch(() => ({ status: 0, json: {} as Record<string, unknown> }));
        statuses.add(`${answer.status} ${String(answer.json.error ?? '')}`.trim());
        if (answer.status === 202) acknowledged += 1;
        await new Promise((resolve) => setTimeout(resolve, 40)); // a publish rate (about 20/s), not a wait
      }
    })();
    await waitFor(() => acknowledged >= 10, '10 publishes before the SIGTERM', { timeoutMs: 5_000, everyMs: 20 });
    await relay.kill('SIGTERM');
    relay = await startServerProcess({ ...env, PORT: String(port) });
    await waitFor(() => acknowledged >= 40, '40 publishes, some on the restarted process', { timeoutMs: 10_000, everyMs: 20 });
    publishing = false;
    await publisher;
    await waitFor(() => readers.every((r) => r.sequence.length >= acknowledged), 'every EventSource to hold every message', { timeoutMs: 10_000, everyMs: 50 })
      .catch(() => undefined); // the assertion below names who is short
    expect(statuses).toContain('503 shutting_down');
    expect(readers.map((r) => r.sequence)).toEqual(readers.map(() => Array.from({ length: acknowledged }, (_, seq) => seq)));
  } finally {
    readers.forEach((r) => r.close());
    await relay.kill('SIGKILL');
  }
}, 30_000);

it('memory source: a publish whose body is still arriving when the drain begins is refused with 503 shutting_down, not taken', async () => {
  const relay = await startRelay({ SHUTDOWN_DRAIN_MS: '2000' });
  // An open stream: the drain lasts its window (with none, the listener closes at once).
  const stream = new SseReader(`${relay.url}/events?topic=m`);
  await stream.until((r) => r.retries.length === 1);
  const body = JSON.stringify({ topic: 'm', data: 'sent while draining' });
  const socket = connect(relay.port, '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.on('error', () => undefined); // the server may reset it after answering; the answer is what counts
  socket.write(`POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 5)}`);
  await waitFor(async () => (await publish(relay.url, { topic: 'warm', data: 'x' })).status === 202, 'the relay to take publishes');
  const stopped = relay.stop();
  await waitFor(async () => (await fetch(`${relay.url}/readyz`)).status === 503, 'the drain to begin', { timeoutMs: 1_000, everyMs: 10 });
  socket.write(body.slice(5));
  await waitFor(() => answer.includes('\r\n\r\n{') || socket.destroyed, 'the answer', { timeoutMs: 1_000, everyMs: 10 });
  socket.destroy();
  await stopped;
  stream.close();
  expect(stream.events).toEqual([]);
  expect(answer).toMatch(/^HTTP\/1\.1 503 /);
  expect(answer).toContain('{"error":"shutting_down","message":"this instance is draining; reconnect elsewhere"}');
});

it('stop() of a server run in-process: a client that resets its drained stream is no uncaught error', async () => {
  // Streams the drain ends last go back to a server that has stopped listening; a reset then reached a socket that
  // node:http's listeners had left, and threw in the embedding process. Run in a child, whose exit code tells.
  const script = `
    import { request } from 'node:http';
    import { startServer } from './dist/functions/server.js';
    import { loadConfig } from './dist/lib/config/index.js';
    import { silentLogger } from './dist/lib/logger.js';
    for (let round = 0; round < 3; round++) {
      const relay = await startServer(loadConfig({ AUTH_MODE: 'none', PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DRAIN_MS: '200' }), silentLogger);
      const response = await new Promise((resolve) => request({ port: relay.port, host: '127.0.0.1', path: '/events?topic=m' }, resolve).end());
      await new Promise((resolve) => response.once('data', resolve));
      await relay.stop();
      response.socket.resetAndDestroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    console.log('stopped cleanly');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  expect([code, output.trim()]).toEqual([0, 'stopped cleanly']);
}, 20_000);

it('on a second SIGINT (Ctrl-C twice) exits at once with 130 instead of waiting for the drain; a second SIGTERM does not', async () => {
  const start = () => startServerProcess({ SHUTDOWN_DRAIN_MS: '60000' });
  const interrupted = await start();
  const terminated = await start();
  try {
    for (const server of [interrupted, terminated]) await new SseReader(`${server.url}/events?topic=a`).until((r) => r.retries.length === 1);
    await interrupted.kill('SIGINT', false);
    await terminated.kill('SIGTERM', false);
    for (const server of [interrupted, terminated]) {
      await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 503, 'draining', { timeoutMs: 5_000, everyMs: 10 });
    }
    await interrupted.kill('SIGINT', false);
    await terminated.kill('SIGTERM', false);
    // Well inside the 60 s drain window: only the Ctrl-C'd process is gone.
    const code = await waitFor(() => Promise.race([interrupted.exited, Promise.resolve(undefined)]), 'exit after the second SIGINT', { timeoutMs: 10_000 });
    expect(code).toBe(130);
    expect((await fetch(`${terminated.url}/readyz`)).status).toBe(503);
  } finally {
    await interrupted.kill('SIGKILL');
    await terminated.kill('SIGKILL');
  }
});
