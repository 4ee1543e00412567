import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startRelay } from '../support/relay-server.js';
import { listItems } from '../support/list-items.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor, waitForSteady } from '../support/wait-for.js';
import { useQueueBackends } from '../support/queue-backends.js';

type Relay = Awaited<ReturnType<typeof startRelay>>;
const CLIENT_ACK = { QUEUE_ACK: 'client', QUEUE_PREFETCH: '3', QUEUE_ACK_TIMEOUT_MS: '2000', PUBLISH_RATE_PER_MINUTE: '0' };

const backends = useQueueBackends();

async function ack(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${url}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

async function publishAll(relay: Relay, topic: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic, data: `m${i}` }) });
    expect(response.status).toBe(202);
  }
}

/** Every behaviour of QUEUE_ACK=client, for one source; `stored` counts the topic's messages still in the source. */
function clientAckSuite(name: string, relays: () => [Relay, Relay], stored: (topic: string) => Promise<number>, startWith: (env: Record<string, string>) => Promise<Relay>): void {
  describe(`${name} with QUEUE_ACK=client`, () => {
    // A browser acknowledges the last frames of a stream a round trip after reading them, and the server's end comes
    // right after those frames: released at the end, they came back as duplicates whatever the acknowledgements said.
    test('acknowledgements on their way when the server ends the stream still remove their messages (QUEUE_ACK_GRACE_MS)', async () => {
      const relay = await startWith({ MAX_SESSION_MS: '1500', SHUTDOWN_DRAIN_MS: '0' });
      try {
        await publishAll(relay, 'late', 3);
        const reader = new SseReader(`${relay.url}/events?topic=late`);
        await reader.until((r) => r.events.length === 3);
        await reader.ended;
        expect(await ack(relay.url, { topic: 'late', ids: reader.ids })).toEqual({ status: 200, json: { acked: 3 } });
        await waitFor(async () => (await stored('late')) === 0, 'the three messages acknowledged after the end removed');
        const next = new SseReader(`${relay.url}/events?topic=late`);
        await next.until((r) => r.retries.length > 0);
        expect(await waitForSteady(async () => next.events.length, 'events for the next subscriber')).toBe(0);
        next.close();
      } finally {
        await relay.stop();
      }
    }, 20_000);

    test('what a server-ended stream held and nobody acknowledged goes to the next subscriber once the grace is over', async () => {
      const relay = await startWith({ MAX_SESSION_MS: '1500', SHUTDOWN_DRAIN_MS: '0', QUEUE_ACK_GRACE_MS: '1000' });
      try {
        await publishAll(relay, 'unread', 2);
        const reader = new SseReader(`${relay.url}/events?topic=unread`);
        await reader.until((r) => r.events.length === 2);
        await reader.ended;
        const endedAt = Date.now();
        const next = new SseReader(`${relay.url}/events?topic=unread`);
        await next.until((r) => r.events.length === 2, 10_000);
        expect(next.events.map((e) => e.data).sort()).toEqual(reader.events.map((e) => e.data).sort());
        // Held for the grace, then given back: not before it (the next stream opened at once and waited).
        expect(Date.now() - endedAt).toBeGreaterThanOrEqual(900);
        expect(await ack(relay.url, { topic: 'unread', ids: next.ids })).toEqual({ status: 200, json: { acked: 2 } });
        next.close();
      } finally {
        await relay.stop();
      }
    }, 20_000);

    test('ids are handles; at most QUEUE_PREFETCH in flight; POST /ack (to this or another process) removes them and lets more through', async () => {
      const [relay, other] = relays();
      await publishAll(relay, 'acks', 8);
      const reader = new SseReader(`${relay.url}/events?topic=acks`);
      await reader.until((r) => r.events.length === 3);
      expect(reader.ids.every((id) => id.startsWith('acks~'))).toBe(true);
      // Nothing more comes while three are unacknowledged: a fourth needs an acknowledgement first.
      expect(await waitForSteady(async () => reader.events.length, 'events while three are unacknowledged')).toBe(3);
      expect(await ack(relay.url, { topic: 'acks', ids: reader.ids.slice(0, 2) })).toEqual({ status: 200, json: { acked: 2 } });
      await reader.until((r) => r.events.length === 5);
      expect(await waitForSteady(async () => reader.events.length, 'events while three are unacknowledged again')).toBe(5);
      // Acknowledged through a process that does not hold them: the holder notices and sends more.
      expect(await ack(other.url, { topic: 'acks', ids: reader.ids.slice(2, 5) })).toEqual({ status: 200, json: { acked: 3 } });
      await reader.until((r) => r.events.length === 8, 10_000);
      await waitFor(async () => (await stored('acks')) === 3, 'five acknowledged messages removed');
      reader.close();
      // The client left holding three unacknowledged messages: all three are still there for the next subscriber.
      const next = new SseReader(`${relay.url}/events?topic=acks`);
      await next.until((r) => r.events.length === 3);
      expect(next.events.map((e) => e.data).sort()).toEqual(reader.events.slice(5).map((e) => e.data).sort());
      expect(await ack(relay.url, { topic: 'acks', ids: next.ids })).toEqual({ status: 200, json: { acked: 3 } });
      await waitFor(async () => (await stored('acks')) === 0, 'every message acknowledged and removed');
      next.close();
    }, 30_000);

    test('a message not acknowledged within QUEUE_ACK_TIMEOUT_MS is released and its stream ends with retry:', async () => {
      const [relay] = relays();
      await publishAll(relay, 'slow', 2);
      const reader = new SseReader(`${relay.url}/events?topic=slow`);
      await reader.until((r) => r.events.length === 2);
      await reader.ended;
      expect(reader.retries.length).toBeGreaterThanOrEqual(2);
      // The stream has ended; what it held goes back a moment later, and nothing was removed.
      await waitFor(async () => (await stored('slow')) === 2, 'both messages back, none removed');
      const again = new SseReader(`${relay.url}/events?topic=slow`);
      await again.until((r) => r.events.length === 2);
      expect(await ack(relay.url, { topic: 'slow', ids: again.ids })).toEqual({ status: 200, json: { acked: 2 } });
      await waitFor(async () => (await stored('slow')) === 0, 'both acknowledged on the second delivery');
      again.close();
    }, 20_000);

    test('bad acknowledgements are 400 invalid_body', async () => {
      const [relay] = relays();
      for (const body of [{ topic: 'acks' }, { topic: 'acks', ids: [] }, { topic: 'acks', ids: ['other~x'] }, { topic: 'acks', ids: [42] }, { ids: ['acks~x'] }]) {
        const answer = await ack(relay.url, body);
        expect(answer.status).toBe(400);
        expect(answer.json).toMatchObject({ error: body.topic === undefined ? 'invalid_topic' : 'invalid_body' });
      }
    });
  });
}

/**
 * Ids that remove nothing at the source (made up, or acknowledged already) are counted per token (here: per address,
 * auth off) against ACK_MISSES_PER_MINUTE: past it, acknowledgements that need the source get 429 before it is asked,
 * while those a stream of the process holds still go through. `sourceCalls` counts what the source was asked so far.
 */
async function missBudgetCase(env: Record<string, string>, made: (real: string, i: number) => string, sourceCalls: () => Promise<number>): Promise<void> {
  const relay = await startRelay({ ...env, ACK_MISSES_PER_MINUTE: '150', SHUTDOWN_DRAIN_MS: '0' });
  try {
    await publishAll(relay, 'misses', 1);
    const reader = new SseReader(`${relay.url}/events?topic=misses`);
    await reader.until((r) => r.events.length === 1);
    const real = reader.ids[0] as string;
    const madeUp = (from: number): string[] => Array.from({ length: 100 }, (_, i) => made(real, from + i));
    expect((await ack(relay.url, { topic: 'misses', ids: madeUp(0) })).status).toBe(200);
    // 50 left: the request is taken, and its 100 misses leave the budget 50 below zero.
    expect((await ack(relay.url, { topic: 'misses', ids: madeUp(100) })).status).toBe(200);
    const callsBefore = await sourceCalls();
    const refused = await fetch(`${relay.url}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'misses', ids: madeUp(200) }) });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ error: 'rate_limited', message: expect.stringContaining('ACK_MISSES_PER_MINUTE (150)') });
    expect(await sourceCalls()).toBe(callsBefore);
    // The message this process's stream holds is still acknowledged: that costs the source nothing it did not need.
    expect(await ack(relay.url, { topic: 'misses', ids: [real] })).toEqual({ status: 200, json: { acked: 1 } });
    expect(relay.app.metrics.get('sse_queue_ack_misses_total')).toBe(200);
    reader.close();
  } finally {
    await relay.stop();
  }
}

describe('redis-list', () => {
  let relays: [Relay, Relay];
  beforeAll(async () => {
    const env = { SOURCE: 'redis-list', REDIS_URL: backends.redis.url, ...CLIENT_ACK };
    relays = [await startRelay(env), await startRelay(env)];
  });
  afterAll(async () => Promise.all(relays.map((r) => r.stop())));
  const stored = (topic: string): Promise<number> => listItems(backends.raw, topic);
  clientAckSuite('redis-list', () => relays, stored, (env) => startRelay({ SOURCE: 'redis-list', REDIS_URL: backends.redis.url, ...CLIENT_ACK, ...env }));

  // Any subscriber of a topic may send handles it made up. Each used to leave a once-per-handle marker key in Redis for 15
  // minutes, so one client could fill Redis at 10,000 keys a second: only an acknowledgement that removed an item has a
  // repeat to guard against.
  test('made-up handles (a real one\'s shape, this process\'s consumer) leave no key in Redis', async () => {
    const [relay, other] = relays;
    await publishAll(relay, 'forged', 1);
    const reader = new SseReader(`${relay.url}/events?topic=forged`);
    await reader.until((r) => r.events.length === 1);
    const [, consumer] = (reader.ids[0] as string).split('~');
    const made = (i: number): string => `forged~${consumer as string}~${createHash('sha1').update(`no such item ${i}`).digest('hex')}~${i}`;
    for (const url of [relay.url, other.url]) {
      expect(await ack(url, { topic: 'forged', ids: Array.from({ length: 100 }, (_, i) => made(i)) })).toMatchObject({ status: 200 });
    }
    expect(await backends.raw.keys('sse:q:forged#acked:*')).toEqual([]);
    // The real handle still removes its item, once, and a repeat of it is still refused by its marker.
    expect(await ack(other.url, { topic: 'forged', ids: reader.ids })).toEqual({ status: 200, json: { acked: 1 } });
    await waitFor(async () => (await stored('forged')) === 0, 'the acknowledged item removed');
    expect(await backends.raw.keys('sse:q:forged#acked:*')).toHaveLength(1);
    reader.close();
  }, 20_000);

  test('ids that remove nothing use up ACK_MISSES_PER_MINUTE: then 429 before Redis is asked; held ids still pass', async () => {
    const evals = async (): Promise<number> => Number(/^cmdstat_eval:calls=(\d+)/m.exec(await backends.raw.info('commandstats'))?.[1] ?? 0);
    await missBudgetCase({ SOURCE: 'redis-list', REDIS_URL: backends.redis.url, ...CLIENT_ACK },
      (real, i) => real.replace(/~[0-9a-f]{40}~/, `~${createHash('sha1').update(`no such item ${i}`).digest('hex')}~`), evals);
  }, 20_000);

  // A producer pushing the same bytes twice (no id in the envelope) makes items with the same SHA-1: each delivery still
  // needs its own handle, or the stream holds them as one and QUEUE_PREFETCH no longer bounds what it takes.
  test('identical items get distinct handles: QUEUE_PREFETCH holds, and each acknowledgement removes one', async () => {
    const [relay] = relays;
    await backends.raw.lpush('sse:q:same', ...Array.from({ length: 8 }, () => JSON.stringify({ data: 'refresh' })));
    const reader = new SseReader(`${relay.url}/events?topic=same`);
    await reader.until((r) => r.events.length === 3);
    expect(await waitForSteady(async () => reader.events.length, 'events while three identical items are unacknowledged')).toBe(3);
    expect(new Set(reader.ids).size).toBe(3);
    expect(await stored('same')).toBe(8);
    expect(await ack(relay.url, { topic: 'same', ids: reader.ids.slice(0, 2) })).toEqual({ status: 200, json: { acked: 2 } });
    await reader.until((r) => r.events.length === 5);
    await waitFor(async () => (await stored('same')) === 6, 'two of the identical items removed');
    reader.close();
    await waitFor(async () => (await backends.raw.llen('sse:q:same')) === 6, 'the three unacknowledged ones back in the queue');
  }, 20_000);

  // An acknowledgement is sent again when its answer was lost (a timeout, a dropped connection): the second one must not
  // remove an identical item another stream holds and its browser never handled, or that item is lost when it leaves.
  test('an acknowledgement sent twice (to the holder or another process) removes one item, not an identical one held elsewhere', async () => {
    // One message in flight per stream, so that each of the two streams holds one of the two identical items.
    const env = { SOURCE: 'redis-list', REDIS_URL: backends.redis.url, ...CLIENT_ACK, QUEUE_PREFETCH: '1' };
    const [relay, other] = [await startRelay(env), await startRelay(env)];
    try {
    for (const [topic, repeatTo] of [['twice-here', relay], ['twice-there', other]] as const) {
      await backends.raw.lpush(`sse:q:${topic}`, ...Array.from({ length: 2 }, () => JSON.stringify({ data: 'refresh' })));
      const first = new SseReader(`${relay.url}/events?topic=${topic}`);
      await first.until((r) => r.events.length === 1);
      const second = new SseReader(`${relay.url}/events?topic=${topic}`);
      await second.until((r) => r.events.length === 1);
      expect(await ack(relay.url, { topic, ids: first.ids })).toEqual({ status: 200, json: { acked: 1 } });
      expect(await ack(repeatTo.url, { topic, ids: first.ids })).toEqual({ status: 200, json: { acked: 1 } });
      // The second stream's browser vanishes without acknowledging: its item must go back to the queue, not be gone.
      second.close();
      first.close();
      await waitFor(async () => (await backends.raw.llen(`sse:q:${topic}`)) === 1, `${topic}: the unacknowledged item back in the queue`);
      expect(await stored(topic)).toBe(1);
    }
    } finally {
      await Promise.all([relay.stop(), other.stop()]);
    }
  }, 30_000);
});

describe('sqs', () => {
  let relays: [Relay, Relay];
  let env: Record<string, string>;
  beforeAll(async () => {
    const template = backends.sqs.createQueue('ack-acks').replace(/ack-acks$/, 'ack-{topic}');
    for (const topic of ['slow', 'late', 'unread']) backends.sqs.createQueue(`ack-${topic}`);
    env = { ...backends.sqs.env('', { SQS_WAIT_SECONDS: '1', ...CLIENT_ACK }), SQS_QUEUE_URL: '', SQS_QUEUE_URL_TEMPLATE: template };
    relays = [await startRelay(env), await startRelay(env)];
  });
  afterAll(async () => Promise.all(relays.map((r) => r.stop())));
  const stored = async (topic: string): Promise<number> => {
    const messages = backends.sqs.server.inspectQueue(`ack-${topic}`)?.messages;
    return (messages?.ready.length ?? 0) + (messages?.inflight.length ?? 0) + (messages?.delayed.length ?? 0);
  };
  clientAckSuite('sqs', () => relays, stored, (extra) => startRelay({ ...env, ...extra }));

  // SQS itself refuses a malformed receipt handle in DeleteMessageBatch (ReceiptHandleIsInvalid), and those count as
  // misses; the emulator here answers every handle as deleted, so the SQS side of ACK_MISSES_PER_MINUTE is not replayed.

  // An SQS receipt handle is up to 1,024 characters: a whole QUEUE_PREFETCH window of 200 is larger than MAX_BODY_BYTES.
  test('a whole QUEUE_PREFETCH window of the longest SQS handles (200 ids, ~210 KB) is read, not refused as too large', async () => {
    const env = { ...backends.sqs.env('', { SQS_WAIT_SECONDS: '1', ...CLIENT_ACK, QUEUE_PREFETCH: '200' }), SQS_QUEUE_URL: '', SQS_QUEUE_URL_TEMPLATE: backends.sqs.createQueue('ack-wide').replace(/ack-wide$/, 'ack-{topic}') };
    const relay = await startRelay(env);
    try {
      const ids = Array.from({ length: 200 }, (_, i) => `wide~${'0'.repeat(36)}-${i}~${'A'.repeat(1_024)}`);
      const { status, json } = await ack(relay.url, { topic: 'wide', ids });
      // Handles of messages nobody holds any more are ignored: the message was acknowledged already or went back.
      expect([status, json]).toEqual([200, { acked: 200 }]);
    } finally {
      await relay.stop();
    }
  });
});

test('POST /ack does not exist without QUEUE_ACK=client', async () => {
  const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: backends.redis.url });
  try {
    expect(await ack(relay.url, { topic: 'acks', ids: ['acks~x'] })).toMatchObject({ status: 404, json: { error: 'not_found' } });
  } finally {
    await relay.stop();
  }
});
