import { afterAll, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { EventSource } from 'eventsource';
import { startRelay } from '../support/relay-server.js';
import { startServerProcess } from '../support/server-process.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

// Issue #19, in small: the accept queue asked for, the overload answer a client gets, and a drain paced by rate.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

it('listens with the LISTEN_BACKLOG it was given (the kernel shows it as the listener Send-Q)', async () => {
  const relay = await startRelay({ LISTEN_BACKLOG: '123' });
  cleanups.push(() => relay.stop());
  const line = execFileSync('ss', ['-ltnH', `sport = :${relay.port}`], { encoding: 'utf8' }).trim();
  expect(line.split(/\s+/)[2]).toBe('123');
});

it('beyond ADMISSION_RATE_PER_S refuses new streams: 503 overloaded with Retry-After, and EventSource comes back by itself', async () => {
  const relay = await startRelay({ ADMISSION_RATE_PER_S: '1' });
  cleanups.push(() => relay.stop());
  const first = new SseReader(`${relay.url}/events?topic=t`);
  cleanups.push(async () => first.close());
  await first.until((r) => r.retries.length === 1);
  const refused = await fetch(`${relay.url}/events?topic=t`);
  expect(refused.status).toBe(503);
  expect(await refused.json()).toMatchObject({ error: 'overloaded' });
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  // The `eventsource` package, like a browser, would close for good on a 503: it gets a retry:-only stream instead.
  const es = new EventSource(`${relay.url}/events?topic=t`);
  cleanups.push(async () => es.close());
  const opens: number[] = [];
  const got: string[] = [];
  es.onopen = () => opens.push(Date.now());
  es.onmessage = (event) => got.push(event.data);
  await waitFor(() => opens.length >= 2, 'EventSource reconnecting after the hinted delay', 10_000);
  await waitFor(() => relay.app.hub.connections.size === 2, 'the second stream admitted', 10_000);
  await fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"t","data":"hello"}' });
  await waitFor(() => got.length === 1, 'the event on the admitted stream', 5_000);
  expect(es.readyState).toBe(EventSource.OPEN);
  expect(relay.app.metrics.get('sse_overload_rejected_total')).toBeGreaterThanOrEqual(2);
  // The retry:-only answer is a refusal (counted above), not a stream: the two streams opened are still open, so no
  // stream has ended and none has a duration (a storm of refusals would otherwise read as thousands of 0 s streams).
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  expect(text).toMatch(/^sse_connections_total 2$/m);
  expect(text).toMatch(/^sse_stream_duration_seconds_count 0$/m);
  expect(text).not.toMatch(/^sse_stream_ends_total\{[^}]*\} [1-9]/m);
});

it('on SIGTERM drains at DRAIN_RATE_PER_S: the window grows to connections ÷ rate, every stream ends with a retry', async () => {
  const server = await startServerProcess({ SHUTDOWN_DRAIN_MS: '200', DRAIN_RATE_PER_S: '100', MAX_CONNECTIONS_PER_CLIENT: '1000' });
  cleanups.push(() => server.kill('SIGKILL'));
  const streams = Array.from({ length: 150 }, () => new SseReader(`${server.url}/events?topic=t`));
  cleanups.push(async () => streams.forEach((s) => s.close()));
  for (const s of streams) await s.until((r) => r.retries.length === 1);
  await server.kill('SIGTERM', false);
  await Promise.all(streams.map((s) => s.ended));
  expect(await server.exited).toBe(0);
  for (const s of streams) expect(s.retries).toHaveLength(2);
  // 150 streams at 100/s: 1.5 s, not 80% of SHUTDOWN_DRAIN_MS; the exit guard is derived from the same window.
  const drainLine = server.log().split('\n').find((l) => l.includes('draining streams')) ?? '';
  expect(JSON.parse(drainLine)).toMatchObject({ connections: 150, windowMs: 1_500, ratePerSecond: 100 });
});
