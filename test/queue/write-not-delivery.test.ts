import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startRelay } from '../support/relay-server.js';
import { listItems } from '../support/list-items.js';
import { StalledClient, type LeaveMode, type RequestKind } from '../support/stalled-client.js';
import { waitFor, waitForSteady } from '../support/wait-for.js';
import { useQueueBackends } from '../support/queue-backends.js';

// Items large enough that a client reading nothing stalls the server after a few MB of socket buffers.
const ITEM_BYTES = 60 * 1024;
const ITEMS = 120;
const MODES: LeaveMode[] = ['reset', 'close', 'half-close'];
// No settle time: this suite is about the write still pending when the client leaves, and measures what a client that
// stalls absorbs once its frames count as delivered (a client that closes within QUEUE_SETTLE_MS: close-race.test.ts).
const NO_SETTLE = { QUEUE_SETTLE_MS: '0' };

const backends = useQueueBackends();

/**
 * A client that reads nothing until the server stalls on a pending write, then leaves. What is still in the queue
 * when the server stalls (including the item whose write is pending) must all still be there after the client left:
 * the pending write's callback arrives after the destroy and must release, not acknowledge.
 */
async function leaveWhileStalled(
  port: number, topic: string, mode: LeaveMode, remaining: () => Promise<number>, settled: () => Promise<boolean>, kind: RequestKind = 'http/1.1',
): Promise<void> {
  const client = new StalledClient(port, `/events?topic=${topic}`, kind);
  await client.connected;
  const atStall = await waitForSteady(remaining, `${topic} queue length while the client reads nothing`);
  expect(atStall).toBeGreaterThan(0);
  expect(atStall).toBeLessThan(ITEMS);
  await client.leave(mode);
  await waitFor(settled, `${topic}: everything the stream held is back in the queue`, 15_000);
  const after = await remaining();
  console.log(`${topic} (${mode}): ${ITEMS - atStall} acknowledged into socket buffers (${((ITEMS - atStall) * ITEM_BYTES / 1_048_576).toFixed(1)} MiB), ` +
    `${atStall} left at the stall, ${after} after the client left`);
  expect(after).toBe(atStall);
}

describe('redis-list: the frame being written when a client leaves is released', () => {
  let relay: Awaited<ReturnType<typeof startRelay>>;
  beforeAll(async () => {
    relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: backends.redis.url, PUBLISH_RATE_PER_MINUTE: '0', ...NO_SETTLE });
  });
  afterAll(async () => relay?.stop());

  // HTTP/1.0 and a pipelined request keep the socket with node:http: the stream writes through res.write, whose
  // response hears of the destroy only after the pending write's callback said success.
  const CASES: [LeaveMode, RequestKind][] = [...MODES.map((mode): [LeaveMode, RequestKind] => [mode, 'http/1.1']), ['reset', 'http/1.0'], ['close', 'pipelined']];
  test.each(CASES)('client leaves by %s (%s)', async (mode, kind) => {
    const topic = `stall-${mode}-${kind.replace('/', '').replace('.', '')}`;
    const item = JSON.stringify({ data: 'x'.repeat(ITEM_BYTES) });
    await backends.raw.lpush(`sse:q:${topic}`, ...Array.from({ length: ITEMS }, () => item));
    const processing = async (): Promise<number> => {
      const keys = await backends.raw.keys(`sse:q:${topic}#processing:*`);
      return keys.length === 0 ? 0 : (await Promise.all(keys.map((k) => backends.raw.llen(k)))).reduce((a, b) => a + b, 0);
    };
    const remaining = (): Promise<number> => listItems(backends.raw, topic);
    await leaveWhileStalled(relay.port, topic, mode, remaining, async () => (await processing()) === 0, kind);
  }, 60_000);
});

describe('sqs: the frame being written when a client leaves is released', () => {
  let relay: Awaited<ReturnType<typeof startRelay>>;
  beforeAll(async () => {
    // One queue per topic, so each case counts only its own messages.
    const template = backends.sqs.createQueue('stall-reset').replace(/stall-reset$/, 'stall-{topic}');
    relay = await startRelay({ ...backends.sqs.env('', { SQS_WAIT_SECONDS: '1', PUBLISH_RATE_PER_MINUTE: '0' }), SQS_QUEUE_URL: '', SQS_QUEUE_URL_TEMPLATE: template, ...NO_SETTLE });
  });
  afterAll(async () => relay?.stop());

  test.each(MODES)('client leaves by %s', async (mode) => {
    const topic = mode;
    const queueUrl = backends.sqs.createQueue(`stall-${mode}`);
    for (let i = 0; i < ITEMS; i += 4) {
      const entries = Array.from({ length: 4 }, (_, n) => ({
        Id: String(n), MessageBody: 'x'.repeat(ITEM_BYTES), MessageAttributes: { topic: { DataType: 'String', StringValue: topic } },
      }));
      await backends.sqs.client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    }
    const state = (): { ready: number; inflight: number } => {
      const messages = backends.sqs.server.inspectQueue(`stall-${mode}`)?.messages;
      return { ready: messages?.ready.length ?? 0, inflight: messages?.inflight.length ?? 0 };
    };
    const remaining = async (): Promise<number> => state().ready + state().inflight;
    await leaveWhileStalled(relay.port, topic, mode, remaining, async () => state().inflight === 0);
  }, 60_000);
});
