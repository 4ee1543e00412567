import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { FIXED_SETTINGS } from '../../lib/config/index.js';
import { PurgeQueueCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { silentLogger, type Logger } from '../../lib/logger.js';
import { isRelayError } from '../../lib/errors.js';
import type { Delivery } from '../../lib/source.js';
import { SqsSource, type InvalidMessage, type SqsSourceSettings } from '../../lib/sources/sqs/source.js';
import { publish, startRelay } from '../support/relay-server.js';
import { newClient, startLocalSqs, type LocalSqs } from './fauxqs.js';
import { startSqsProxy } from './sqs-proxy.js';
import { waitFor } from '../support/wait-for.js';

let sqs: LocalSqs;
const sources: SqsSource[] = [];

beforeAll(async () => {
  sqs = await startLocalSqs();
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await sqs?.stop();
});

type SourceOptions = Partial<Omit<SqsSourceSettings, 'queues'>> & ({ queueUrl: string } | { queueUrlTemplate: string });

function source(settings: SourceOptions, onInvalidMessage?: (m: InvalidMessage) => void): SqsSource {
  const queues = 'queueUrl' in settings ? { kind: 'shared' as const, url: settings.queueUrl } : { kind: 'per-topic' as const, template: settings.queueUrlTemplate };
  const created = new SqsSource(newClient(sqs.endpoint), { waitSeconds: 1, visibilityTimeoutSeconds: 30, maxMessageBytes: 1_024, batchFlushMs: FIXED_SETTINGS.sqsBatchFlushMs, ...settings, queues },
    onInvalidMessage === undefined ? {} : { onInvalidMessage });
  sources.push(created);
  return created;
}

/** Takes `count` deliveries (acking each unless told not to) and returns them; the iterator stays open. */
async function take(iterator: AsyncIterator<Delivery>, count: number, ack = true): Promise<Delivery[]> {
  const out: Delivery[] = [];
  while (out.length < count) {
    const next = await iterator.next();
    if (next.done === true) break;
    if (ack) await next.value.ack();
    out.push(next.value);
  }
  return out;
}

test('a leaving subscriber releases what it held: another gets it long before the 30 s visibility timeout', async () => {
  const queueUrl = sqs.createQueue('release');
  const relay = source({ queueUrl });
  for (let i = 0; i < 6; i++) await relay.publish('t', { data: `m${i}` });
  const leaving = new AbortController();
  const first = relay.consume(['t'], leaving.signal)[Symbol.asyncIterator]();
  const [unacked] = await take(first, 1, false);
  expect(unacked?.data).toBe('m0');
  const started = Date.now();
  leaving.abort();
  const staying = new AbortController();
  const got = await take(relay.consume(['t'], staying.signal)[Symbol.asyncIterator](), 6);
  staying.abort();
  expect(got.map((d) => d.data).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
  expect(Date.now() - started).toBeLessThan(5_000);
});

test('on a shared queue a subscriber of topic A leaves topic B alone: B is released for its own subscriber', async () => {
  const queueUrl = sqs.createQueue('shared');
  const relay = source({ queueUrl });
  await relay.publish('b', { data: 'for b', event: 'note' });
  await relay.publish('a', { data: 'for a' });
  const a = new AbortController();
  const b = new AbortController();
  const [gotA, gotB] = await Promise.all([
    take(relay.consume(['a'], a.signal)[Symbol.asyncIterator](), 1),
    take(relay.consume(['b'], b.signal)[Symbol.asyncIterator](), 1),
  ]);
  a.abort();
  b.abort();
  expect(gotA.map((d) => [d.topic, d.data])).toEqual([['a', 'for a']]);
  expect(gotB.map((d) => [d.topic, d.event, d.data])).toEqual([['b', 'note', 'for b']]);
});

test('poison messages never stall the stream, are counted, and reach the dead-letter queue after maxReceiveCount', async () => {
  const dlq = sqs.createQueue('poison-dlq');
  const dlqArn = sqs.server.inspectQueue('poison-dlq')?.arn as string;
  const queueUrl = sqs.createQueue('poison', { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 }) });
  const invalid: InvalidMessage[] = [];
  const relay = source({ queueUrl, visibilityTimeoutSeconds: 1 }, (m) => invalid.push(m));
  const send = (body: string, event?: string): Promise<unknown> => sqs.client.send(new SendMessageCommand({
    QueueUrl: queueUrl, MessageBody: body, MessageAttributes: event === undefined ? undefined : { event: { DataType: 'String', StringValue: event } },
  }));
  await send('x'.repeat(2_000));
  await send('ok-1');
  await send('{}', 'evil\r\nid: 1');
  await send('ok-2');
  const stop = new AbortController();
  const iterator = relay.consume(['t'], stop.signal)[Symbol.asyncIterator]();
  expect((await take(iterator, 2)).map((d) => d.data)).toEqual(['ok-1', 'ok-2']);
  let dead: string[] = [];
  await waitFor(async () => {
    const out = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }));
    dead = [...dead, ...(out.Messages ?? []).map((m) => m.Body ?? '')];
    return dead.length >= 2;
  }, () => `two messages in the dead-letter queue (got ${dead.length})`, { timeoutMs: 15_000, everyMs: 0 }).catch(() => undefined);
  stop.abort();
  expect(dead.sort()).toEqual(['x'.repeat(2_000), '{}'].sort());
  expect(invalid.length).toBeGreaterThanOrEqual(4);
  expect(new Set(invalid.map((m) => m.reason)).size).toBe(2);
}, 30_000);

test('a FIFO queue keeps each topic (message group) in order across competing subscribers', async () => {
  const queueUrl = sqs.createQueue('ordered.fifo', { FifoQueue: 'true' });
  const relay = source({ queueUrl });
  for (let i = 0; i < 30; i++) await relay.publish(['x', 'y', 'z'][i % 3] as string, { data: String(i), key: `k${i}` });
  await relay.publish('x', { data: 'duplicate of 0', key: 'k0' });
  const seen: Delivery[] = [];
  const stops = [new AbortController(), new AbortController()];
  const consumers = stops.map(async (stop) => {
    const iterator = relay.consume(['x', 'y', 'z'], stop.signal)[Symbol.asyncIterator]();
    for (let next = await iterator.next(); next.done !== true && seen.length < 30; next = await iterator.next()) {
      seen.push(next.value);
      await next.value.ack();
    }
  });
  // A duplicate delivered among the first 30 would leave a topic one short below.
  await waitFor(() => seen.length >= 30, () => `30 deliveries over both subscribers (got ${seen.length})`, 15_000).catch(() => undefined);
  stops.forEach((stop) => stop.abort());
  await Promise.all(consumers);
  for (const topic of ['x', 'y', 'z']) {
    const order = seen.filter((d) => d.topic === topic).map((d) => Number(d.data));
    expect(order).toEqual([...order].sort((p, q) => p - q));
    expect(order).toHaveLength(10);
  }
}, 20_000);

test('a FIFO queue shared by topics: the same idempotency id in two topics is two messages, a retry in one topic is one', async () => {
  // SQS deduplicates across the whole queue (DeduplicationScope "queue", the default); a publish id is unique per topic.
  // Before: the second topic's message was answered 202 with the first topic's MessageId and never stored.
  const queueUrl = sqs.createQueue('mailboxes.fifo', { FifoQueue: 'true' });
  const relay = source({ queueUrl });
  const first = await relay.publish('user-1', { data: 'welcome 1', key: 'welcome' });
  const retried = await relay.publish('user-1', { data: 'welcome 1', key: 'welcome' });
  const other = await relay.publish('user-2', { data: 'welcome 2', key: 'welcome' });
  expect(retried.id).toBe(first.id);
  expect(other.id).not.toBe(first.id);
  const stop = new AbortController();
  const iterator = relay.consume(['user-1', 'user-2'], stop.signal)[Symbol.asyncIterator]();
  const got = await take(iterator, 2);
  stop.abort();
  expect(got.map((d) => [d.topic, d.data]).sort()).toEqual([['user-1', 'welcome 1'], ['user-2', 'welcome 2']]);
}, 20_000);

test('a FIFO queue is received one message at a time (SQS would hand out a group\'s next ones side by side); a standard one ten', async () => {
  const asked = new Map<string, number[]>();
  const client = newClient(sqs.endpoint);
  // Records what each ReceiveMessage asks for, on its way to the emulator.
  client.middlewareStack.add((next) => async (args) => {
    const input = args.input as { QueueUrl?: string; MaxNumberOfMessages?: number };
    if (input.MaxNumberOfMessages !== undefined) asked.set(String(input.QueueUrl), [...(asked.get(String(input.QueueUrl)) ?? []), input.MaxNumberOfMessages]);
    return next(args);
  }, { step: 'initialize' });
  for (const name of ['one-at-a-time.fifo', 'ten-at-a-time']) {
    const queueUrl = sqs.createQueue(name, name.endsWith('.fifo') ? { FifoQueue: 'true' } : {});
    const relay = new SqsSource(client, { waitSeconds: 1, visibilityTimeoutSeconds: 30, maxMessageBytes: 1_024, batchFlushMs: FIXED_SETTINGS.sqsBatchFlushMs, queues: { kind: 'shared', url: queueUrl } });
    sources.push(relay);
    for (let i = 0; i < 3; i++) await relay.publish('g', { data: String(i), key: `k${i}` });
    const stop = new AbortController();
    const taken = await take(relay.consume(['g'], stop.signal)[Symbol.asyncIterator](), 3);
    stop.abort();
    expect(taken.map((d) => d.data)).toEqual(['0', '1', '2']);
    expect(new Set(asked.get(queueUrl))).toEqual(new Set([name.endsWith('.fifo') ? 1 : 10]));
  }
});

test('a missing queue is a clear source_unavailable error, at publish and at consume, and a 503 over HTTP', async () => {
  const missing = `${sqs.endpoint}/000000000000/nope`;
  const relay = source({ queueUrl: missing });
  const atPublish = await relay.publish('t', { data: 'x' }).catch((e: unknown) => e);
  expect(isRelayError(atPublish) && atPublish.code).toBe('source_unavailable');
  expect((atPublish as Error).message).toContain('nope');
  const atConsume = await relay.consume(['t'], new AbortController().signal)[Symbol.asyncIterator]().next().catch((e: unknown) => e);
  expect(isRelayError(atConsume) && atConsume.code).toBe('source_unavailable');
  const server = await startRelay(sqs.env(missing, { PUBLISH_RATE_PER_MINUTE: '0' }));
  try {
    const answer = await publish(server.url, { topic: 't', data: 'x' });
    expect(answer).toMatchObject({ status: 503, json: { error: 'source_unavailable' } });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    const stream = await fetch(`${server.url}/events?topic=t`);
    expect(stream.status).toBe(503);
    expect(stream.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await stream.json()).toMatchObject({ error: 'source_unavailable' });
  } finally {
    await server.stop();
  }
});

test('template mode validates a topic before it becomes part of a queue URL', () => {
  const relay = source({ queueUrlTemplate: `${sqs.endpoint}/000000000000/ev-{topic}` });
  expect(() => relay.consume(['a.b'], new AbortController().signal)).toThrow(/letters, digits/);
});

test('a message held longer than the visibility timeout is extended, not handed to a second subscriber', async () => {
  const queueUrl = sqs.createQueue('slow');
  const relay = source({ queueUrl, visibilityTimeoutSeconds: 1 });
  await relay.publish('t', { data: 'slow write' });
  const slow = new AbortController();
  const [held] = await take(relay.consume(['t'], slow.signal)[Symbol.asyncIterator](), 1, false);
  const other = new AbortController();
  const rival = take(relay.consume(['t'], other.signal)[Symbol.asyncIterator](), 1);
  // Held past the deadline of its first receive, and extended twice meanwhile: without the extensions the rival would
  // have received it by now.
  const visibleAt = (): number | undefined => sqs.server.inspectQueue('slow')?.messages.inflight[0]?.visibilityDeadline;
  const firstDeadline = visibleAt() ?? 0;
  const extensions = new Set<number>();
  await waitFor(() => {
    const now = visibleAt();
    if (now !== undefined && now > firstDeadline) extensions.add(now);
    return Date.now() > firstDeadline && extensions.size >= 2;
  }, () => `the held message extended twice past its first visibility deadline (${extensions.size} extensions)`, 8_000);
  await held?.ack();
  other.abort();
  expect(await rival).toEqual([]);
  slow.abort();
}, 10_000);

/** A logger that keeps its warnings and errors, as `level message fields` lines. */
function warnings(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (fields: object, message: string): void => void lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  return { lines, logger: { ...silentLogger, warn: keep('warn'), error: keep('error') } };
}

test('a visibility extension that fails is tried again before the old deadline, so no other consumer gets the message', async () => {
  const queueUrl = sqs.createQueue('extend-fails');
  const proxy = await startSqsProxy(sqs.endpoint);
  let extensions = 0;
  // The first two extensions are refused (AccessDenied: the SDK does not retry it); the ones after them pass.
  proxy.fault = (action) => (action === 'ChangeMessageVisibilityBatch' && ++extensions <= 2 ? { status: 400, type: 'AccessDenied', message: 'not now' } : undefined);
  const log = warnings();
  const relay = new SqsSource(newClient(proxy.endpoint), { waitSeconds: 1, visibilityTimeoutSeconds: 4, maxMessageBytes: 1_024, batchFlushMs: FIXED_SETTINGS.sqsBatchFlushMs, queues: { kind: 'shared', url: queueUrl } }, { logger: log.logger });
  const rival = source({ queueUrl });
  try {
    await relay.publish('t', { data: 'held' });
    const slow = new AbortController();
    const [held] = await take(relay.consume(['t'], slow.signal)[Symbol.asyncIterator](), 1, false);
    const receivedAt = Date.now();
    const other = new AbortController();
    const rivalTook = take(rival.consume(['t'], other.signal)[Symbol.asyncIterator](), 1);
    // Until two seconds past the first receive's deadline (4 s). The timer's passes (every second) find the message due
    // about 2 s in; after two refusals the message stays ours only if the attempts come sooner than the timer's.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, receivedAt + 6_000 - Date.now())));
    expect(extensions).toBeGreaterThanOrEqual(3);
    // AccessDenied is the operator's to fix: an error naming the permission, not a passing warning.
    expect(log.lines.filter((line) => line.startsWith('error SQS visibility extension failed') && line.includes('sqs:ChangeMessageVisibility'))).toHaveLength(2);
    await held?.ack();
    other.abort();
    expect(await rivalTook).toEqual([]);
    slow.abort();
  } finally {
    await relay.close();
    await proxy.stop();
  }
}, 15_000);

test('a held message SQS no longer has in flight (purged, or received elsewhere) is dropped, not delivered late', async () => {
  const queueUrl = sqs.createQueue('extend-gone');
  const log = warnings();
  const relay = new SqsSource(newClient(sqs.endpoint), { waitSeconds: 1, visibilityTimeoutSeconds: 2, maxMessageBytes: 1_024, batchFlushMs: FIXED_SETTINGS.sqsBatchFlushMs, queues: { kind: 'shared', url: queueUrl } }, { logger: log.logger });
  try {
    await relay.publish('t', { data: 'first' });
    await relay.publish('t', { data: 'waiting' });
    const stop = new AbortController();
    const iterator = relay.consume(['t'], stop.signal)[Symbol.asyncIterator]();
    // One receive brings both; the second waits here for the busy subscriber.
    const [first] = await take(iterator, 1, false);
    expect(first?.data).toBe('first');
    await sqs.client.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
    await waitFor(() => log.lines.some((line) => line.includes('no longer has some held messages')), () => `no warning about the purged messages; logged: ${log.lines.join('\n')}`, 5_000);
    await relay.publish('t', { data: 'after the purge' });
    const [next] = await take(iterator, 1);
    expect(next?.data).toBe('after the purge');
    stop.abort();
  } finally {
    await relay.close();
  }
}, 15_000);

test('on a shared queue a message whose topic attribute is not a String, or not a topic, is invalid, not delivered', async () => {
  const queueUrl = sqs.createQueue('typed');
  const invalid: InvalidMessage[] = [];
  const relay = source({ queueUrl, visibilityTimeoutSeconds: 30 }, (m) => invalid.push(m));
  await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'binary', MessageAttributes: { topic: { DataType: 'Binary', BinaryValue: Buffer.from('t') } } }));
  await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'bad name', MessageAttributes: { topic: { DataType: 'String', StringValue: 'not a topic!' } } }));
  await relay.publish('t', { data: 'good' });
  const stop = new AbortController();
  const got = await take(relay.consume(['t'], stop.signal)[Symbol.asyncIterator](), 1);
  stop.abort();
  expect(got.map((d) => d.data)).toEqual(['good']);
  expect(invalid.map((m) => m.reason).sort()).toEqual([expect.stringMatching(/topic attribute must be of type String/), expect.stringMatching(/topic must match/)].sort());
});

test('short polling (SQS_WAIT_SECONDS=0) on an empty queue does not spin: at most one empty receive a second', async () => {
  // Counts the ReceiveMessage calls that reach the emulator.
  const proxy = await startSqsProxy(sqs.endpoint);
  const queueUrl = sqs.createQueue('short-poll');
  const relay = new SqsSource(newClient(proxy.endpoint), { queues: { kind: 'shared', url: queueUrl }, waitSeconds: 0, visibilityTimeoutSeconds: 30, maxMessageBytes: 1_024, batchFlushMs: FIXED_SETTINGS.sqsBatchFlushMs });
  sources.push(relay);
  const stop = new AbortController();
  try {
    const deliveries = relay.consume(['t'], stop.signal)[Symbol.asyncIterator]();
    const first = deliveries.next();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // Spinning, the loop sent thousands in these 2 s; with the floor, about 2.
    const receives = proxy.calls.get('ReceiveMessage') ?? 0;
    expect(receives).toBeGreaterThan(0);
    expect(receives).toBeLessThanOrEqual(6);
    await relay.publish('t', { data: 'still found' });
    expect((await first).value?.data).toBe('still found');
  } finally {
    stop.abort();
    await proxy.stop();
  }
}, 15_000);

test('a FIFO queue shared by topics: a group nobody here reads, at the head of the queue, does not starve a topic that is read', async () => {
  // Released at once, the foreign group's head was the oldest message again at the next receive (one message per FIFO
  // receive), so the subscriber of `a` got nothing for as long as `b`'s messages stayed in the queue.
  const queueUrl = sqs.createQueue('starving.fifo', { FifoQueue: 'true' });
  const relay = source({ queueUrl });
  for (let i = 0; i < 3; i++) await relay.publish('b', { data: `b${i}`, key: `b${i}` });
  for (let i = 0; i < 3; i++) await relay.publish('a', { data: `a${i}`, key: `a${i}` });
  const stop = new AbortController();
  const iterator = relay.consume(['a'], stop.signal)[Symbol.asyncIterator]();
  const got: string[] = [];
  const reading = (async () => {
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      got.push(next.value.data);
      await next.value.ack();
      if (got.length === 3) break;
    }
  })();
  await waitFor(() => got.length === 3, () => `a0..a2 behind the foreign group b (got ${JSON.stringify(got)})`, 10_000).finally(() => stop.abort());
  await reading;
  expect(got).toEqual(['a0', 'a1', 'a2']);
  // b's messages are still in the queue for a subscriber of b.
  const other = new AbortController();
  const b = await take(relay.consume(['b'], other.signal)[Symbol.asyncIterator](), 3);
  other.abort();
  expect(b.map((d) => d.data)).toEqual(['b0', 'b1', 'b2']);
}, 30_000);
