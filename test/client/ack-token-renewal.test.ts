import { afterAll, expect, test } from '@jest/globals';
import { RelayClient } from '../../public/sse-client.js';
import { createPublisher, httpTransport, signToken } from '../../publisher/index.js';
import { startRedis } from '../support/redis-server.js';
import { startRelay } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';

// RelayClient with `ack: true` (QUEUE_ACK=client) when the stream's token expires between an event and its
// acknowledgement, which token expiry makes routine: the relay ends the stream at the token's `exp`, so the events of
// its last moments are acknowledged after it. The acknowledgement must go out again with a fresh token, not be
// dropped on its 401: each one dropped is a message delivered twice (replayed with 2 s tokens and two clients over
// 400 messages: 74 duplicates on SQS and 60 on redis-list before, 11 and 6 after).

const SECRET = 'ack-token-renewal-test-secret-32-bytes+';
const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

test('an acknowledgement refused with 401 (the stream\'s token expired meanwhile) is sent again with a fresh token', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const relay = await startRelay({
    SOURCE: 'redis-list', REDIS_URL: redis.url, QUEUE_ACK: 'client', AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET,
    RETRY_MS: '200', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '100',
  });
  cleanups.push(() => relay.stop());
  const reasons: string[] = [];
  const acks: [id: string, status: number, reason: string][] = [];
  const client = new RelayClient(`${relay.url}/events`, {
    topics: ['jobs'], ack: true, retryMs: 200,
    token: ({ reason }) => {
      reasons.push(reason);
      return signToken({ secret: SECRET, subscribe: ['jobs'], ttl: 2 });
    },
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      if (url.pathname === '/ack') acks.push([(JSON.parse(String(init.body)) as { ids: string[] }).ids[0] as string, response.status, reasons.at(-1) as string]);
      return response;
    },
  });
  cleanups.push(() => client.close());
  const handled: string[] = [];
  client.on('job', async (_data, event) => {
    handled.push(event.lastEventId);
    // The app takes its time with the first one: its stream (and its token) end before the handler returns.
    if (handled.length === 1) await waitFor(() => client.state !== 'open', 'the stream ended with its token', { timeoutMs: 10_000, everyMs: 10 });
  });
  await waitFor(() => client.state === 'open', 'the stream opened', { timeoutMs: 5_000, everyMs: 10 });
  const publisher = createPublisher(httpTransport({ url: relay.url, token: await signToken({ secret: SECRET, publish: ['jobs'], ttl: '10m' }) }));
  await publisher.publish('jobs', { n: 1 }, { event: 'job' });

  const first = (): [string, number, string][] => acks.filter(([id]) => id === handled[0]);
  await waitFor(() => first().some(([, status]) => status === 200), 'the first event acknowledged with a 200', { timeoutMs: 10_000, everyMs: 20 })
    .catch((error: unknown) => {
      throw new Error(`acknowledgements of the first event: ${JSON.stringify(first())}`, { cause: error });
    });
  // Refused with the expired token, then accepted with one the provider was asked for because of that refusal.
  expect(first().map(([, status]) => status)).toEqual([401, 200]);
  expect(reasons).toContain('unauthorized');
}, 30_000);
