import { afterAll, expect, test } from '@jest/globals';
import { startNginxSite } from '../support/nginx-site.js';
import { freePort } from '../support/nginx.js';
import { startRedis } from '../support/redis-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { waitFor } from '../support/wait-for.js';

// A rolling restart behind the shipped nginx site (nginx/sse-relay.conf, one `server` line per relay process, as
// docs/redis.md describes). Relay B is down for a moment (restarting) while nginx sends it a request: nginx's passive
// health check (max_fails=1, fail_timeout=10s by default) marks it failed. nginx takes a failed server back only when a
// request it sent there as a trial *completes*, and an SSE trial is a stream that stays open for MAX_SESSION_MS: B then
// got one new stream per 10 s and stayed "failed". When relay A drained next, every reconnect met "no live upstreams"
// and got `: relay unavailable` — 966 of 3,000 clients were still away after two minutes in an outside replay, and
// publishes got 502 for as long. The site must keep sending to a server that answers again.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

async function relay(redisUrl: string, port: number): Promise<ServerProcess> {
  const server = await startServerProcess({ SOURCE: 'redis', REDIS_URL: redisUrl, PORT: String(port), RETRY_MS: '1000' });
  cleanups.push(() => server.kill('SIGKILL'));
  return server;
}

/** Opens `/events` and reads until the stream names its position (an `id:` line) or ends; the answer's text. */
async function openStream(base: string, keepOpen: AbortController[]): Promise<string> {
  const abort = new AbortController();
  keepOpen.push(abort);
  const response = await fetch(`${base}/events?topic=recovery`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += decoder.decode(value, { stream: true });
    if (/^id: /m.test(text)) return text;
  }
}

const streamsOpened = (server: ServerProcess): number => server.log().split('\n').filter((line) => line.includes('"msg":"stream opened"')).length;

test('a relay that was down once gets streams again, and takes over when the other one goes', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const a = await relay(redis.url, 0);
  const portB = await freePort();
  const nginx = await startNginxSite([a.port, portB]);
  cleanups.push(() => nginx.stop());
  const base = `http://127.0.0.1:${nginx.port}`;
  const open: AbortController[] = [];
  cleanups.push(async () => open.forEach((abort) => abort.abort()));

  // B is not listening yet: round robin sends some of these to it, the connect is refused, nginx moves on to A.
  for (let i = 0; i < 4; i++) expect(await openStream(base, open)).toMatch(/^id: /m);
  const b = await relay(redis.url, portB);
  // Streams through nginx until one lands on B (bounded: nginx's own fail_timeout is 10 s). Each stays open, as a
  // browser's does.
  await waitFor(async () => {
    expect(await openStream(base, open)).toMatch(/^id: /m);
    return streamsOpened(b) > 0 || undefined;
  }, 'a stream through nginx to reach relay B', { timeoutMs: 20_000, everyMs: 250 });

  // A goes away (its port now refuses): every new stream must reach B, none may get nginx's "relay unavailable".
  await a.kill('SIGKILL');
  const answers: string[] = [];
  for (let i = 0; i < 6; i++) answers.push(await openStream(base, open));
  expect(answers.filter((text) => text.includes(': relay unavailable'))).toEqual([]);
  for (const text of answers) expect(text).toMatch(/^id: /m);
}, 60_000);
