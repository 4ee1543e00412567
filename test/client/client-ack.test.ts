import { afterAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { RelayClient } from '../../public/sse-client.js';
import { createPublisher, httpTransport, signToken } from '../../publisher/index.js';
import { startRedis } from '../support/redis-server.js';
import { publish, startRelay } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';

// RelayClient with `ack: true` (QUEUE_ACK=client): acknowledgements must reach the relay while the stream that holds their
// messages is open, else the relay hands the messages out again. First, when the stream's token expires between an event and its
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

test('close() inside a handler: its acknowledgement is answered before the stream closes, so the message is not handed out again', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const raw = new Redis(redis.url);
  cleanups.push(() => raw.disconnect());
  const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: redis.url, QUEUE_ACK: 'client', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  for (const n of [1, 2, 3]) await publish(relay.url, { topic: 'jobs', data: { n } });
  // Take one job and stop: the first handler closes the client, then finishes its work (the acknowledgement follows it).
  const client = new RelayClient(`${relay.url}/events`, { topics: ['jobs'], ack: true });
  const handled: unknown[] = [];
  client.on('message', async (data) => {
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    handled.push(data);
  });
  const held = async (): Promise<number> => {
    let count = await raw.llen('sse:q:jobs');
    for (const key of await raw.keys('sse:q:jobs#processing:*')) count += await raw.llen(key);
    return count;
  };
  await waitFor(() => handled.length === 1, 'the first job handled', { timeoutMs: 5_000, everyMs: 10 });
  // The stream's end gives back the two it did not hand over; the one handled is gone (before: all three came back).
  await waitFor(async () => (await raw.keys('sse:q:jobs#processing:*')).length === 0 || (await raw.llen('sse:q:jobs')) === 2, 'the stream ended', { timeoutMs: 5_000, everyMs: 20 });
  await new Promise((resolve) => setTimeout(resolve, 300)); // a release still on its way would show up here
  expect(handled).toEqual([{ n: 1 }]);
  expect(await held()).toBe(2);
  expect((await raw.lrange('sse:q:jobs', 0, -1)).map((item) => JSON.parse(JSON.parse(item).data).n).sort()).toEqual([2, 3]);
}, 30_000);

test('an acknowledgement refused with 503 (Redis unreachable for a moment) is sent again after Retry-After', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  // Never left stopped, whatever fails below.
  cleanups.push(() => redis.kill('SIGCONT'));
  const raw = new Redis(redis.url);
  cleanups.push(() => raw.disconnect());
  const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: redis.url, QUEUE_ACK: 'client', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '100' });
  cleanups.push(() => relay.stop());
  const acks: number[] = [];
  const client = new RelayClient(`${relay.url}/events`, {
    topics: ['jobs'], ack: true,
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      if (url.pathname === '/ack') {
        acks.push(response.status);
        // Redis comes back once the acknowledgement was refused for it.
        if (response.status === 503) redis.kill('SIGCONT');
      }
      return response;
    },
  });
  cleanups.push(() => client.close());
  const handled: unknown[] = [];
  client.on('message', (data) => {
    handled.push(data);
    // Redis stops between the event and its acknowledgement: the relay cannot remove the message and answers 503.
    redis.kill('SIGSTOP');
  });
  await waitFor(() => client.state === 'open', 'the stream opened', { timeoutMs: 5_000, everyMs: 10 });
  await publish(relay.url, { topic: 'jobs', data: { n: 1 } });
  await waitFor(() => acks.includes(200), () => `the acknowledgement accepted (answers so far: ${JSON.stringify(acks)})`, { timeoutMs: 20_000, everyMs: 20 });
  expect(acks[0]).toBe(503);
  expect(handled).toEqual([{ n: 1 }]);
  // Removed for good: neither back in the queue nor left in a processing list (before: it stayed there, to be handed
  // out again once the stream ended).
  let left = await raw.llen('sse:q:jobs');
  for (const key of await raw.keys('sse:q:jobs#processing:*')) left += await raw.llen(key);
  expect(left).toBe(0);
}, 40_000);
