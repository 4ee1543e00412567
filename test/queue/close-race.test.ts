import { describe, expect, test } from '@jest/globals';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startRelay } from '../support/relay-server.js';
import { listItems } from '../support/list-items.js';
import { SseReader } from '../support/sse-reader.js';
import { StalledClient } from '../support/stalled-client.js';
import { waitFor } from '../support/wait-for.js';
import { useQueueBackends } from '../support/queue-backends.js';

// QUEUE_ACK=auto. A client that closes discards what reached its socket but was not read yet: a browser closing a tab
// while messages flow. The frames were written, and the write callbacks said so while the connection was open, but
// the client never saw them. Before QUEUE_SETTLE_MS those messages were removed from the queue at once and lost (a
// replay with readers that read at once and then reset lost 29 of 1,000 SQS messages over 456 closes). The settle
// time here is long so that the test does not depend on how fast the host runs it.
const SETTLE = { QUEUE_SETTLE_MS: '30000', PUBLISH_RATE_PER_MINUTE: '0' };
const ITEMS = 3;

const backends = useQueueBackends();

/** A client takes every message (written to its socket, unread) and resets; then a reader must get every one. */
async function closeWithUnread(port: number, url: string, topic: string, taken: () => Promise<boolean>, settled: () => Promise<boolean>): Promise<void> {
  const client = new StalledClient(port, `/events?topic=${topic}`);
  await client.connected;
  await waitFor(taken, `${topic}: every message taken for the client`);
  await client.leave('reset');
  await waitFor(settled, `${topic}: nothing held by the stream that ended`);
  const reader = new SseReader(`${url}/events?topic=${topic}`);
  await reader.until((r) => r.events.length === ITEMS, 10_000);
  expect(reader.events.map((e) => e.data).sort()).toEqual(Array.from({ length: ITEMS }, (_, i) => `m${i}`));
  reader.close();
}

describe('QUEUE_ACK=auto: a client that closes with unread frames takes nothing with it', () => {
  test('redis-list', async () => {
    const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: backends.redis.url, ...SETTLE });
    try {
      const topic = 'close-race';
      await backends.raw.lpush(`sse:q:${topic}`, ...Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ data: `m${i}` })));
      const processing = async (): Promise<number> => {
        const keys = await backends.raw.keys(`sse:q:${topic}#processing:*`);
        return keys.length === 0 ? 0 : (await Promise.all(keys.map((k) => backends.raw.llen(k)))).reduce((a, b) => a + b, 0);
      };
      await closeWithUnread(relay.port, relay.url, topic,
        async () => (await backends.raw.llen(`sse:q:${topic}`)) === 0,
        async () => (await listItems(backends.raw, topic)) === ITEMS && (await processing()) === 0);
    } finally {
      await relay.stop();
    }
  }, 30_000);

  test('sqs', async () => {
    const queueUrl = backends.sqs.createQueue('close-race');
    const relay = await startRelay(backends.sqs.env(queueUrl, { SQS_WAIT_SECONDS: '1', ...SETTLE }));
    try {
      const entries = Array.from({ length: ITEMS }, (_, i) => ({ Id: String(i), MessageBody: `m${i}` }));
      await backends.sqs.client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      const state = (): { ready: number; inflight: number } => {
        const messages = backends.sqs.server.inspectQueue('close-race')?.messages;
        return { ready: messages?.ready.length ?? 0, inflight: messages?.inflight.length ?? 0 };
      };
      await closeWithUnread(relay.port, relay.url, 'close-race',
        async () => state().ready === 0,
        async () => state().ready === ITEMS);
    } finally {
      await relay.stop();
    }
  }, 30_000);
});

describe('QUEUE_SETTLE_MS: a stream the server ends counts what it wrote as read', () => {
  // The source releases what a stopped consumer did not settle; before the stream settled first, a drain gave back
  // every message written in the last QUEUE_SETTLE_MS, and each came again to another subscriber.
  test('redis-list: shutting down while messages settle acknowledges them; none goes back to the queue', async () => {
    const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: backends.redis.url, SHUTDOWN_DRAIN_MS: '0', ...SETTLE });
    const topic = 'drain-settle';
    await backends.raw.lpush(`sse:q:${topic}`, ...Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ data: `m${i}` })));
    const reader = new SseReader(`${relay.url}/events?topic=${topic}`);
    await reader.until((r) => r.events.length === ITEMS);
    expect(await listItems(backends.raw, topic)).toBe(ITEMS);
    await relay.stop();
    reader.close();
    expect(await listItems(backends.raw, topic)).toBe(0);
  }, 30_000);

  test('sqs: shutting down while messages settle deletes them; none becomes visible again', async () => {
    const queueUrl = backends.sqs.createQueue('drain-settle');
    const relay = await startRelay(backends.sqs.env(queueUrl, { SQS_WAIT_SECONDS: '1', SHUTDOWN_DRAIN_MS: '0', ...SETTLE }));
    const entries = Array.from({ length: ITEMS }, (_, i) => ({ Id: String(i), MessageBody: `m${i}` }));
    await backends.sqs.client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    const reader = new SseReader(`${relay.url}/events?topic=drain-settle`);
    await reader.until((r) => r.events.length === ITEMS);
    await relay.stop();
    reader.close();
    const messages = backends.sqs.server.inspectQueue('drain-settle')?.messages;
    expect({ ready: messages?.ready.length, inflight: messages?.inflight.length }).toEqual({ ready: 0, inflight: 0 });
  }, 30_000);
});
