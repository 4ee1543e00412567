import { afterAll, expect, test } from '@jest/globals';
import { EventSource } from 'eventsource';
import { Redis } from 'ioredis';
import { startNginxSite } from '../support/nginx-site.js';
import { startRedis } from '../support/redis-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { startStreamPublisher } from '../support/stream-publisher.js';
import { TimedSseStream } from '../support/timed-sse-stream.js';
import { waitFor } from '../support/wait-for.js';

// A rolling update, in small: replicas A and B of the real server (Redis mode) share one Redis; nginx
// (nginx/sse-relay.conf) sends traffic to A. A gets SIGTERM: /readyz fails at once, so the "orchestrator" (this test)
// repoints nginx at B, as ingress-nginx does when an endpoint leaves; A closes each stream with a final `retry:` and
// exits within its drain window. EventSource clients come back through nginx to B with Last-Event-ID and, as records
// kept being appended to Redis throughout, must hold every id exactly once.

const DRAIN_MS = 2_000;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

async function replica(redisUrl: string): Promise<ServerProcess> {
  const env = { SOURCE: 'redis', REDIS_URL: redisUrl, SHUTDOWN_DRAIN_MS: String(DRAIN_MS), RETRY_MS: '1500', HEARTBEAT_MS: '1000' };
  const server = await startServerProcess(env);
  cleanups.push(() => server.kill('SIGKILL'));
  return server;
}

/** An `eventsource` client that records the ids of `record` events and how often it (re)opened. */
function client(url: string): { ids: string[]; opens: number[]; errors: string[]; es: EventSource } {
  const es = new EventSource(url);
  const record = { ids: [] as string[], opens: [] as number[], errors: [] as string[], es };
  es.addEventListener('record', (event) => record.ids.push(event.lastEventId));
  es.onopen = () => record.opens.push(Date.now());
  es.onerror = (event) => record.errors.push(`${event.code ?? ''} ${event.message ?? ''}`.trim());
  cleanups.push(async () => es.close());
  return record;
}

test('on SIGTERM behind nginx: readiness fails first, streams end with retry, exit in time, clients resume on B', async () => {
  const redisServer = await startRedis();
  cleanups.push(() => redisServer.stop());
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => redis.disconnect());
  const [a, b] = [await replica(redisServer.url), await replica(redisServer.url)];
  const nginx = await startNginxSite(a.port);
  cleanups.push(() => nginx.stop());
  const base = `http://127.0.0.1:${nginx.port}`;

  const raws = [1, 2].map(() => new TimedSseStream(`${base}/events?topic=drain`));
  cleanups.push(async () => raws.forEach((r) => r.close()));
  const ended = raws.map(() => false);
  raws.forEach((r, i) => void r.closed.then(() => (ended[i] = true)));
  const clients = [1, 2].map(() => client(`${base}/events?topic=drain`));
  await waitFor(() => raws.every((r) => r.retries.length === 1) && clients.every((c) => c.opens.length === 1), 'all streams open', 5_000);
  const publisher = startStreamPublisher(redis, 'sse:drain', ['Ada', 'Grace']);
  cleanups.push(() => publisher.stop());
  await waitFor(() => clients.every((c) => c.ids.length >= 10), 'ten records on every client', 5_000);

  const signalledAt = Date.now();
  await a.kill('SIGTERM', false);
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 503, '/readyz to answer 503 within 1 s of SIGTERM', { timeoutMs: 1_000, everyMs: 0 });
  const unreadyAt = Date.now();
  // Readiness failed while streams were still open: the orchestrator learns first, clients are moved after.
  expect(ended.filter((e) => !e).length).toBeGreaterThan(0);
  const refused = await fetch(`${base}/events?topic=drain`);
  expect(refused.status).toBe(503);
  expect(refused.headers.get('retry-after')).toBe('1');
  await nginx.repoint(b.port);
  const repointedAt = Date.now();

  expect(await a.exited).toBe(0);
  const exitedAt = Date.now();
  expect(exitedAt - signalledAt).toBeLessThan(DRAIN_MS + 1_000);
  for (const raw of raws) {
    expect(await raw.closed).toBe('end');
    expect(raw.retries).toHaveLength(2); // the opening one and the final, jittered one (RETRY_MS × [0.5, 1.5))
    expect(raw.retries[1]).toBeGreaterThanOrEqual(750);
  }

  await waitFor(() => clients.every((c) => c.opens.length === 2), 'every EventSource reopening through nginx to B', 6_000)
    .catch((error: unknown) => { throw new Error(`errors seen: ${JSON.stringify(clients.map((c) => c.errors))}`, { cause: error }); });
  const atReopen = publisher.published.length;
  await waitFor(() => publisher.published.length >= atReopen + 3, 'three records published after every client reopened on B');
  await publisher.stop();
  const published = publisher.published.map((r) => `drain=${r.id}`);
  await waitFor(() => clients.every((c) => c.ids.length >= published.length), 'every published record on every client', 5_000);
  await new Promise((r) => setTimeout(r, 200)); // proving that nothing more arrives: a late duplicate would show up here
  for (const c of clients) expect(c.ids).toEqual(published);
  const reopened = clients.map((c) => (c.opens[1] ?? NaN) - signalledAt);
  console.log(`drain: /readyz 503 after ${unreadyAt - signalledAt} ms, nginx repointed to B after ${repointedAt - signalledAt} ms; A exited 0 after ` +
    `${exitedAt - signalledAt} ms (SHUTDOWN_DRAIN_MS ${DRAIN_MS}); clients reopened on B at +${reopened.join(' ms, +')} ms; ` +
    `${published.length} ids checked per client, no gap, no duplicate`);
});
