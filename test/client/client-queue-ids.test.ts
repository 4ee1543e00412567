import { afterAll, expect, test } from '@jest/globals';
import { RelayClient } from '../../public/sse-client.js';
import { redisCli } from '../support/redis-cli.js';
import { startRedis } from '../support/redis-server.js';
import { startRelay } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';

// A redis-list item's `id` becomes its SSE id (docs/redis.md), and the field rules allow any text but CR, LF and NUL
// in it. An id that is not ASCII could not travel back as a Last-Event-ID header: fetch threw before sending, and the
// client (header transport, the default) backed off for ever after the next end of its stream.

const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

test('a queue item with a non-ASCII id, then a stream the server ends: the client reconnects and gets the next item', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: redis.url, MAX_SESSION_MS: '1000', RETRY_MS: '100', SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  await redisCli(redis.port, 'LPUSH', 'sse:q:jobs', JSON.stringify({ data: 'one', id: 'café-✓' }));
  const client = new RelayClient(`${relay.url}/events`, { topics: ['jobs'], json: false, baseDelayMs: 50, maxDelayMs: 100 });
  cleanups.push(() => client.close());
  const got: [string, string][] = [];
  const states: string[] = [];
  client.on('*', (data, event) => got.push([event.lastEventId, String(data)]));
  client.addEventListener('statechange', (e) => states.push(e.detail.state));
  await waitFor(() => got.length >= 1, 'the first item', { timeoutMs: 5_000, everyMs: 20 });
  // The stream ends after MAX_SESSION_MS; the item pushed after that must come through a new stream.
  await waitFor(() => states.filter((s) => s === 'open').length >= 2, () => `a second stream; states ${states.join(',')}`, { timeoutMs: 5_000, everyMs: 20 });
  await redisCli(redis.port, 'LPUSH', 'sse:q:jobs', JSON.stringify({ data: 'two', id: 'job-2' }));
  await waitFor(() => got.length >= 2, () => `the second item; states ${states.join(',')}`, { timeoutMs: 5_000, everyMs: 20 });
  expect(got).toEqual([['café-✓', 'one'], ['job-2', 'two']]);
  expect(states).not.toContain('backoff');
}, 30_000);
