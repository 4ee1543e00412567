import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startNginx, type RunningNginx } from '../support/nginx.js';
import { publish } from '../support/relay-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { TimedSseStream } from '../support/timed-sse-stream.js';
import { waitFor } from '../support/wait-for.js';

// The real server process (memory mode) behind the real nginx with the project's location snippet, its read timeout cut
// to 2 s so the heartbeat test takes seconds. One server and one nginx serve every test; each test has its own topic.

const HEARTBEAT_MS = 500;
let server: ServerProcess;
let nginx: RunningNginx;
const open: TimedSseStream[] = [];

beforeAll(async () => {
  server = await startServerProcess({ HEARTBEAT_MS: String(HEARTBEAT_MS) });
  nginx = await startNginx({ upstreamPort: server.port, proxyReadTimeout: '2s' });
});

afterAll(async () => {
  for (const stream of open) stream.close();
  await nginx?.stop();
  await server?.kill('SIGKILL');
});

function stream(port: number, topic: string, headers: Record<string, string> = {}): TimedSseStream {
  const opened = new TimedSseStream(`http://127.0.0.1:${port}/events?topic=${topic}`, headers);
  open.push(opened);
  return opened;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

describe('the server behind nginx', () => {
  test('delivers every event through nginx as directly, and reports the latency nginx adds', async () => {
    const N = 100;
    const direct = stream(server.port, 'lat');
    const proxied = stream(nginx.port, 'lat');
    for (const s of [direct, proxied]) {
      const res = await s.opened;
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      await s.until((x) => x.retries.length === 1, 'the opening retry');
    }
    const sentAt: number[] = [];
    for (let i = 0; i < N; i++) {
      sentAt.push(performance.now());
      expect((await publish(server.url, { topic: 'lat', event: 'tick', data: `n=${i}` })).status).toBe(202);
      await direct.until((s) => s.events.length > i, `event ${i} directly`, 2_000);
      await proxied.until((s) => s.events.length > i, `event ${i} through nginx`, 2_000);
    }
    expect(proxied.events.map((e) => [e.id, e.event, e.data])).toEqual(direct.events.map((e) => [e.id, e.event, e.data]));
    expect(proxied.events.map((e) => e.data)).toEqual(Array.from({ length: N }, (_, i) => `n=${i}`));
    const latency = (s: TimedSseStream): number[] => s.events.map((e, i) => e.at - (sentAt[i] ?? NaN)).sort((a, b) => a - b);
    const [d, p] = [latency(direct), latency(proxied)];
    const added = proxied.events.map((e, i) => e.at - (direct.events[i]?.at ?? NaN)).sort((a, b) => a - b);
    const f = (n: number): string => n.toFixed(2);
    console.log(`publish→receive over ${N} events (ms): direct p50 ${f(percentile(d, 50))} p99 ${f(percentile(d, 99))}; ` +
      `through nginx p50 ${f(percentile(p, 50))} p99 ${f(percentile(p, 99))}; ` +
      `added by nginx (same event, paired) p50 ${f(percentile(added, 50))} p99 ${f(percentile(added, 99))}`);
    // Sanity bound only: the machine is shared, but an nginx that buffers would hold events for seconds.
    expect(percentile(p, 99)).toBeLessThan(500);
  });

  test('a quiet stream outlives the 2 s proxy_read_timeout thanks to the 500 ms heartbeat', async () => {
    const quiet = stream(nginx.port, 'quiet');
    await quiet.opened;
    // Seven heartbeats at 500 ms span 3 s, past the 2 s proxy_read_timeout; the stream must not close before.
    const outlived = waitFor(() => quiet.comments.length >= 7, 'seven heartbeats through nginx', 10_000).then(() => 'open' as const, () => 'no heartbeats' as const);
    const outcome = await Promise.race([quiet.closed, outlived]);
    expect(outcome).toBe('open');
    // None is ever more than the read timeout apart.
    expect(quiet.comments.length).toBeGreaterThanOrEqual(6);
    const gaps = quiet.comments.slice(1).map((c, i) => c.at - (quiet.comments[i]?.at ?? 0));
    expect(Math.max(...gaps)).toBeLessThan(2_000);
    expect(quiet.events).toHaveLength(0);
    // Still a working stream, not just an open socket.
    await publish(server.url, { topic: 'quiet', data: 'after the silence' });
    await quiet.until((s) => s.events.length === 1, 'the event after 5 s of silence');
    expect(quiet.events[0]?.data).toBe('after the silence');
  });

  test('Last-Event-ID passes through nginx: the resumed stream holds exactly the missed events', async () => {
    const first = stream(nginx.port, 'resume');
    await first.until((s) => s.retries.length === 1, 'the opening retry');
    for (let i = 1; i <= 5; i++) await publish(server.url, { topic: 'resume', data: `m${i}` });
    await first.until((s) => s.events.length === 5, 'the first five events');
    first.close();
    const lastSeen = first.events[4]?.id ?? '';
    for (let i = 6; i <= 10; i++) await publish(server.url, { topic: 'resume', data: `m${i}` });
    const resumed = stream(nginx.port, 'resume', { 'last-event-id': lastSeen });
    await resumed.until((s) => s.events.length === 5, 'the five missed events');
    await publish(server.url, { topic: 'resume', data: 'm11' });
    await resumed.until((s) => s.events.length === 6, 'the live event after the replay');
    expect(resumed.events.map((e) => e.data)).toEqual(['m6', 'm7', 'm8', 'm9', 'm10', 'm11']);
    expect(new Set([...first.ids, ...resumed.ids]).size).toBe(11);
    // Without the header the same request replays nothing: the header, not luck, made the difference.
    const fresh = stream(nginx.port, 'resume');
    await fresh.until((s) => s.retries.length === 1, 'the opening retry');
    await publish(server.url, { topic: 'resume', data: 'm12' });
    await fresh.until((s) => s.events.length === 1, 'the live event');
    expect(fresh.events.map((e) => e.data)).toEqual(['m12']);
  });
});
