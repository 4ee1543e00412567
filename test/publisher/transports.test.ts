import { afterAll, expect, test } from '@jest/globals';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createServer } from 'node:http';
import { Cluster, Redis } from 'ioredis';
import { createPublisher, httpTransport, PublishError, redisTransport, signToken, sqsTransport, type PublishMessage, type PublishTransport } from '../../publisher/index.js';
import { redisCli } from '../support/redis-cli.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';

// The same messages go through each transport of the publisher into a running relay (real redis-server, the SQS
// emulator), and a subscriber reads them back with an independent parser: the frames (event type and data) must be the
// same for every transport, the ids the publisher returned must be the ids the subscriber sees, and a repeated
// idempotency key must be stored once.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

const TOPIC = 'orders';
// One topic per round trip: an idempotency key is remembered per topic, and each round must store its own messages.
const messages = (topic: string): PublishMessage[] => [
  { topic, data: { id: 42, total: '9.90' }, event: 'created' },
  { topic, data: 'line one\nline two\r\nline three\rend' },
  { topic, data: 'ünïcødé ✓ <b>', event: 'note' },
  { topic, data: 'once', id: 'order-42-paid' },
  { topic, data: 'once', id: 'order-42-paid' },
  { topic, data: [1, 2, 3], event: 'list' },
];
// What a subscriber must see: data as text (line breaks normalised to LF by SSE), the repeated key once.
const EXPECTED = [
  { event: 'created', data: '{"id":42,"total":"9.90"}' },
  { event: 'message', data: 'line one\nline two\nline three\nend' },
  { event: 'note', data: 'ünïcødé ✓ <b>' },
  { event: 'message', data: 'once' },
  { event: 'list', data: '[1,2,3]' },
];

let redisServer: TestRedis | undefined;
async function redisUrl(): Promise<string> {
  if (redisServer === undefined) {
    redisServer = await startRedis();
    const started = redisServer;
    cleanups.push(() => started.stop());
  }
  return redisServer.url;
}

async function redisClient(): Promise<Redis> {
  const redis = new Redis(await redisUrl(), { maxRetriesPerRequest: 1 });
  cleanups.push(async () => redis.disconnect());
  return redis;
}

/** Subscribes, publishes every message through `transport`, and returns the frames and the ids the publisher got. */
async function roundTrip(relayUrl: string, transport: PublishTransport, topic = TOPIC): Promise<{ frames: { event: string; data: string; id: string }[]; ids: string[] }> {
  const reader = new SseReader(`${relayUrl}/events?topic=${topic}`);
  cleanups.push(async () => reader.close());
  await reader.until((r) => r.status === 200 && r.retries.length > 0);
  const publisher = createPublisher(transport);
  const ids = (await publisher.publishBatch(messages(topic))).map((p) => p.id);
  await reader.until((r) => r.events.length >= EXPECTED.length, 10_000).catch((e: unknown) => { throw new Error(`${JSON.stringify(reader.events)} ids ${ids}`, { cause: e }); });
  await publisher.close();
  reader.close();
  return { frames: reader.events.map((e) => ({ event: e.event ?? 'message', data: e.data, id: e.id ?? '' })), ids };
}

const withoutIds = (frames: { event: string; data: string }[]): { event: string; data: string }[] => frames.map(({ event, data }) => ({ event, data }));

test('http and redis-stream transports into SOURCE=redis: identical frames, the returned ids are the stream positions', async () => {
  const relay = await startRelay({ SOURCE: 'redis', REDIS_URL: await redisUrl() });
  cleanups.push(() => relay.stop());
  const viaHttp = await roundTrip(relay.url, httpTransport({ url: relay.url }), 'via-http');
  const viaRedis = await roundTrip(relay.url, redisTransport({ redis: await redisClient(), maxLen: 1000 }), 'via-redis');
  for (const [topic, { frames, ids }] of [['via-http', viaHttp], ['via-redis', viaRedis]] as const) {
    expect(withoutIds(frames)).toEqual(EXPECTED);
    // The repeated key answers the first message's position; every frame id is `topic=<position>`.
    expect(ids[4]).toBe(ids[3]);
    expect(frames.map((f) => f.id)).toEqual([ids[0], ids[1], ids[2], ids[3], ids[5]].map((id) => `${topic}=${id}`));
  }
  // The stream entries are the same fields either way (`key` only where an idempotency key was given or generated).
  const redis = await redisClient();
  const fields = async (key: string): Promise<string[][]> => (await redis.xrange(key, '-', '+')).map(([, f]) => f.filter((_v, i) => i < 4));
  expect(await fields('sse:via-redis')).toEqual(await fields('sse:via-http'));
  // And the stream key expires as the relay's would (REDIS_STREAM_TTL_S, default a day), with or without an id.
  const publisher = createPublisher(redisTransport({ redis, streamTtlSeconds: 600 }));
  await publisher.publish('ttl-plain', 'x');
  await publisher.publish('ttl-keyed', 'x', { id: 'k1' });
  for (const key of ['sse:via-http', 'sse:via-redis', 'sse:ttl-plain', 'sse:ttl-keyed']) {
    const ttl = await redis.ttl(key);
    expect([key, ttl > 0 && ttl <= (key.includes('via-') ? 86_400 : 600)]).toEqual([key, true]);
  }
});

test('redis stream transport: after Redis came back without its data, the next append sets the stream TTL again', async () => {
  const redis = await redisClient();
  const publisher = createPublisher(redisTransport({ redis, streamTtlSeconds: 600 }));
  await publisher.publish('ttl-lost', 'before');
  expect(await redis.ttl('sse:ttl-lost')).toBeGreaterThan(500);
  // A restart without persistence, as the producer sees it: the keys are gone and its connection drops.
  const admin = await redisClient();
  await admin.flushall();
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  await waitFor(async () => redis.status === 'ready' && (await redis.ping().then(() => true, () => false)), 'the producer reconnected', 10_000);
  await publisher.publish('ttl-lost', 'after');
  expect(await redis.ttl('sse:ttl-lost')).toBeGreaterThan(500);
});

test('redis-list transport into SOURCE=redis-list: identical frames, the returned ids are the SSE ids', async () => {
  const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: await redisUrl() });
  cleanups.push(() => relay.stop());
  const { frames, ids } = await roundTrip(relay.url, redisTransport({ redis: await redisClient(), mode: 'list' }));
  expect(withoutIds(frames)).toEqual(EXPECTED);
  expect(ids[4]).toBe(ids[3]);
  expect(frames.map((f) => f.id)).toEqual([ids[0], ids[1], ids[2], ids[3], ids[5]]);
});

test('sqs transport (batch and single) into SOURCE=sqs on a FIFO queue: identical frames, MessageIds as SSE ids', async () => {
  const sqs = await startLocalSqs();
  cleanups.push(() => sqs.stop());
  const queueUrl = sqs.createQueue('orders.fifo', { FifoQueue: 'true' });
  const relay = await startRelay(sqs.env(queueUrl, { SQS_WAIT_SECONDS: '1' }));
  cleanups.push(() => relay.stop());
  const { frames, ids } = await roundTrip(relay.url, sqsTransport({ client: sqs.client, queueUrl }));
  expect(withoutIds(frames)).toEqual(EXPECTED);
  expect(frames.map((f) => f.id)).toEqual([ids[0], ids[1], ids[2], ids[3], ids[5]]);
  // One at a time as well (SendMessage rather than the batch call).
  const reader = new SseReader(`${relay.url}/events?topic=${TOPIC}`);
  cleanups.push(async () => reader.close());
  const single = await createPublisher(sqsTransport({ client: sqs.client, queueUrl })).publish(TOPIC, { n: 1 }, { event: 'single' });
  await reader.until((r) => r.events.length >= 1, 10_000);
  expect(reader.events.map((e) => [e.id, e.event, e.data])).toEqual([[single.id, 'single', '{"n":1}']]);
});

test('sqs transport on a FIFO queue shared by topics: one id in two topics is two messages, as the relay\'s own publish stores them', async () => {
  const sqs = await startLocalSqs();
  cleanups.push(() => sqs.stop());
  const queueUrl = sqs.createQueue('mailboxes.fifo', { FifoQueue: 'true' });
  const relay = await startRelay(sqs.env(queueUrl, { SQS_WAIT_SECONDS: '1', PUBLISH_RATE_PER_MINUTE: '0' }));
  cleanups.push(() => relay.stop());
  const reader = new SseReader(`${relay.url}/events?topic=user-1&topic=user-2`);
  cleanups.push(async () => reader.close());
  await reader.until((r) => r.status === 200 && r.retries.length > 0);
  const publisher = createPublisher(sqsTransport({ client: sqs.client, queueUrl }));
  await publisher.publishBatch([{ topic: 'user-1', data: 'welcome 1', id: 'welcome' }, { topic: 'user-2', data: 'welcome 2', id: 'welcome' }]);
  // The same id through the relay's POST /publish, once in each topic: each is a retry of the transport's, stored once.
  for (const topic of ['user-1', 'user-2']) {
    expect((await fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic, data: `welcome ${topic.slice(-1)}`, id: 'welcome' }) })).status).toBe(202);
  }
  await reader.until((r) => r.events.length >= 2, 10_000);
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // a receive's wait: a duplicate would arrive here
  expect(reader.events.map((e) => e.data).sort()).toEqual(['welcome 1', 'welcome 2']);
});

test('sqs transport: a body SQS cannot store is PublishError unsupported_message (as POST /publish answers), and nothing of its batch is sent', async () => {
  const sqs = await startLocalSqs();
  cleanups.push(() => sqs.stop());
  for (const queueUrl of [sqs.createQueue('bodies'), sqs.createQueue('bodies.fifo', { FifoQueue: 'true' })]) {
    const publisher = createPublisher(sqsTransport({ client: sqs.client, queueUrl }));
    // Not `unavailable`: that code means "retry", and these can never be stored.
    for (const data of ['', 'a\u0001b', 'x\uFFFEy']) {
      await expect(publisher.publish(TOPIC, data)).rejects.toMatchObject({ name: 'PublishError', code: 'unsupported_message' });
    }
    await expect(publisher.publishBatch([{ topic: TOPIC, data: 'first' }, { topic: TOPIC, data: '' }])).rejects.toMatchObject({ name: 'PublishError', code: 'unsupported_message' });
    const { Attributes } = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    expect([queueUrl, Attributes?.ApproximateNumberOfMessages]).toEqual([queueUrl, '0']);
  }
});

/**
 * SQS's partial failure of a batch, reproduced on the emulator: the entries `lose` picks (by call number and entry id)
 * are not stored and come back as Failed with SenderFault false; everything else is the real exchange. Returns the
 * entry ids of each SendMessageBatch call.
 */
function failOnSqsSide(client: LocalSqs['client'], lose: (call: number, id: string) => boolean): string[][] {
  const calls: string[][] = [];
  client.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName !== 'SendMessageBatchCommand') return next(args);
    const input = args.input as { Entries: { Id: string }[] };
    calls.push(input.Entries.map((e) => e.Id));
    const lost = input.Entries.filter((e) => lose(calls.length, e.Id));
    input.Entries = input.Entries.filter((e) => !lost.includes(e));
    // SQS answers a call whose every entry failed with all of them in Failed; the emulator refuses an empty batch.
    const result = input.Entries.length > 0 ? await next(args) : { output: { $metadata: {}, Successful: [] }, response: {} };
    const output = result.output as { Failed?: { Id: string; SenderFault: boolean; Code: string }[] };
    output.Failed = [...(output.Failed ?? []), ...lost.map((e) => ({ Id: e.Id, SenderFault: false, Code: 'InternalError' }))];
    return result;
  }, { step: 'initialize', name: 'failOnSqsSide' });
  return calls;
}

async function messagesIn(sqs: LocalSqs, queueUrl: string): Promise<string | undefined> {
  const { Attributes } = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Attributes?.ApproximateNumberOfMessages;
}

test('sqs transport: entries SQS fails on its side are sent again alone, so a standard queue stores each message once', async () => {
  const sqs = await startLocalSqs();
  cleanups.push(() => sqs.stop());
  const queueUrl = sqs.createQueue('partial');
  const calls = failOnSqsSide(sqs.client, (call, id) => call === 1 && (id === '1' || id === '3'));
  const published = await createPublisher(sqsTransport({ client: sqs.client, queueUrl }))
    .publishBatch([0, 1, 2, 3, 4].map((n) => ({ topic: TOPIC, data: `m${n}` })));
  expect(calls).toEqual([['0', '1', '2', '3', '4'], ['1', '3']]);
  expect(published.every((p) => p.id !== '')).toBe(true);
  expect(await messagesIn(sqs, queueUrl)).toBe('5');
});

test('sqs transport: an entry SQS keeps failing is `unavailable` after three calls, and the error says how many were stored', async () => {
  const sqs = await startLocalSqs();
  cleanups.push(() => sqs.stop());
  const queueUrl = sqs.createQueue('failing');
  const calls = failOnSqsSide(sqs.client, (_call, id) => id === '2');
  await expect(createPublisher(sqsTransport({ client: sqs.client, queueUrl })).publishBatch([0, 1, 2, 3, 4].map((n) => ({ topic: TOPIC, data: `m${n}` }))))
    .rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/^SQS stored 4 of 5 messages of this call and failed 1 after 3 attempts \(first: InternalError/) });
  expect(calls).toEqual([['0', '1', '2', '3', '4'], ['2'], ['2']]);
  expect(await messagesIn(sqs, queueUrl)).toBe('4');
});

test('the publisher refuses what the relay would refuse, before anything is sent', async () => {
  const sent: unknown[] = [];
  const publisher = createPublisher({ send: async (m) => (sent.push(m), { id: 'x' }) });
  const refusals: [PublishMessage, string][] = [
    [{ topic: 'bad topic', data: 1 }, 'invalid_topic'],
    [{ topic: TOPIC, data: undefined }, 'invalid_body'],
    [{ topic: TOPIC, data: 'x', event: 'a\nb' }, 'invalid_event_field'],
    [{ topic: TOPIC, data: 'x', event: 'relay.reset' }, 'invalid_event_field'],
    [{ topic: TOPIC, data: 'x', event: 'e'.repeat(129) }, 'invalid_body'],
    [{ topic: TOPIC, data: 'x', id: 'i'.repeat(257) }, 'invalid_body'],
    [{ topic: TOPIC, data: 'x', id: 'a\0' }, 'invalid_event_field'],
    [{ topic: TOPIC, data: '\uD800' }, 'invalid_body'],
    [{ topic: TOPIC, data: 'x'.repeat(65_537) }, 'message_too_large'],
  ];
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  refusals.push([{ topic: TOPIC, data: circular }, 'invalid_body'], [{ topic: TOPIC, data: 10n }, 'invalid_body'], [null as unknown as PublishMessage, 'invalid_body']);
  for (const [message, code] of refusals) {
    await expect(publisher.publishBatch([message])).rejects.toMatchObject({ name: 'PublishError', code });
  }
  // Plain JavaScript mistakes: options as a string (it would be spread into nothing and sent as event `message`).
  await expect(publisher.publish(TOPIC, 'x', 'created' as unknown as { event: string })).rejects.toMatchObject({ name: 'PublishError', code: 'invalid_body' });
  await expect(publisher.publishBatch('x' as unknown as PublishMessage[])).rejects.toMatchObject({ name: 'PublishError', code: 'invalid_body' });
  expect(sent).toEqual([]);
  // A grant given as a string would be spread into one-letter patterns.
  await expect(signToken({ secret: 's'.repeat(32), publish: 'orders' as unknown as string[] })).rejects.toThrow('publish must be an array of topic patterns');
});

test('http transport: a 503 with Retry-After is retried after that wait; a 401 with a fixed token is not retried', async () => {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const relay = await startRelay({ SOURCE: 'redis', REDIS_URL: redis.url });
  cleanups.push(() => relay.stop());
  const answers: { status: number; retryAfter: string | null; at: number }[] = [];
  const recording: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    answers.push({ status: response.status, retryAfter: response.headers.get('retry-after'), at: Date.now() });
    if (response.status === 503 && answers.length === 1) await redis.restart();
    return response;
  };
  redis.kill('SIGKILL');
  const published = await createPublisher(httpTransport({ url: relay.url, fetch: recording })).publish(TOPIC, 'after the outage');
  expect(answers.map((a) => a.status)).toEqual([503, 202]);
  const waited = (answers[1]?.at ?? 0) - (answers[0]?.at ?? 0);
  expect(waited).toBeGreaterThanOrEqual(Number(answers[0]?.retryAfter) * 1000 - 50);
  expect(published.id).toMatch(/^\d+-\d+$/);

  const refusing = await startRelay({ AUTH_JWT_SECRET: 's'.repeat(32), AUTH_MODE: 'jwt' });
  cleanups.push(() => refusing.stop());
  let calls = 0;
  const counting: typeof fetch = async (input, init) => (calls++, fetch(input, init));
  const error = await createPublisher(httpTransport({ url: refusing.url, fetch: counting })).publish(TOPIC, 'x').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PublishError);
  expect(error).toMatchObject({ code: 'unauthorized', status: 401 });
  expect(calls).toBe(1);
});

test('redis transport with waitReplicas: resolves once a replica holds the write, else PublishError not_replicated (streams and lists)', async () => {
  const primary = await startRedis();
  cleanups.push(() => primary.stop());
  const redis = new Redis(primary.url, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => redis.disconnect());
  const transports = [redisTransport({ redis, waitReplicas: 1, waitTimeoutMs: 100 }), redisTransport({ redis, mode: 'list', waitReplicas: 1, waitTimeoutMs: 100 })];
  // No replica yet: the write may be lost in a failover, so the producer hears it and retries with the same id.
  for (const transport of transports) {
    await expect(createPublisher(transport).publish(TOPIC, 'alone', { id: 'w-1' })).rejects.toMatchObject({ name: 'PublishError', code: 'not_replicated' });
  }
  const replica = await startRedis();
  cleanups.push(() => replica.stop());
  await redisCli(replica.port, 'REPLICAOF', '127.0.0.1', primary.port);
  await waitFor(async () => /connected_slaves:1/.test(await redisCli(primary.port, 'INFO', 'replication')), 'the replica attached', { timeoutMs: 10_000, everyMs: 50 });
  for (const transport of transports) {
    const publisher = createPublisher(transport);
    await waitFor(() => publisher.publish(TOPIC, 'alone', { id: 'w-1' }).then(() => true, () => false), 'a replicated publish', { timeoutMs: 10_000, everyMs: 100 });
  }
  // Retried with the same id: one entry, one queue item, each on the replica.
  expect(await redisCli(replica.port, 'XLEN', `sse:${TOPIC}`)).toBe('1');
  expect(await redisCli(replica.port, 'LLEN', `sse:q:${TOPIC}`)).toBe('1');
});

test('redisTransport options and maxMessageBytes outside the relay\'s ranges (NaN from an unset variable, 0, a fraction) are PublishError invalid_config, not keys no relay reads', () => {
  const redis = new Redis({ lazyConnect: true });
  const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
  cleanups.push(async () => (redis.disconnect(), cluster.disconnect()));
  const refused: Parameters<typeof redisTransport>[0][] = [
    { redis: cluster, clusterPartitions: Number.NaN }, { redis: cluster, clusterPartitions: 0 }, { redis: cluster, clusterPartitions: 1.5 },
    { redis, maxLen: Number.NaN }, { redis, maxLen: 0 }, { redis, idempotencyTtlSeconds: 0 }, { redis, streamTtlSeconds: -1 },
    { redis, waitTimeoutMs: 0 }, { redis, waitReplicas: -1 }, { redis, keyPrefix: 7 as unknown as string },
    // A hash tag in the prefix would take the place of the relay's own in a cluster (CROSSSLOT, or every topic in one slot).
    { redis: cluster, keyPrefix: '{app}:' }, { redis: cluster, keyPrefix: 'x{}' }, { redis: cluster, keyPrefix: 'sse{', mode: 'list' },
  ];
  for (const options of refused) {
    expect(() => redisTransport(options)).toThrow(expect.objectContaining({ name: 'PublishError', code: 'invalid_config' }));
  }
  // The size check of createPublisher likewise: NaN would turn it off, and the relay would skip the message later.
  for (const maxMessageBytes of [Number.NaN, 0, 1.5]) {
    expect(() => createPublisher(redisTransport({ redis }), { maxMessageBytes })).toThrow(expect.objectContaining({ name: 'PublishError', code: 'invalid_config' }));
  }
  // Passed as undefined, each takes the relay's default.
  expect(() => redisTransport({ redis: cluster, clusterPartitions: undefined, maxLen: undefined, streamTtlSeconds: undefined, waitTimeoutMs: undefined })).not.toThrow();
  expect(() => redisTransport({ redis, streamTtlSeconds: 0, waitReplicas: 16, clusterPartitions: undefined })).not.toThrow();
  // Outside a cluster no hash tag is added, so a brace in the prefix changes nothing there.
  expect(() => redisTransport({ redis, keyPrefix: '{app}:' })).not.toThrow();
});

test('a transport whose client fails (Redis not there) rejects with the documented PublishError unavailable, its cause kept', async () => {
  const absent = await startRedis({ started: false });
  cleanups.push(() => absent.stop());
  const redis = new Redis(absent.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => undefined);
  cleanups.push(async () => redis.disconnect());
  for (const mode of ['stream', 'list'] as const) {
    const error = await createPublisher(redisTransport({ redis, mode })).publish(TOPIC, 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishError);
    expect(error).toMatchObject({ code: 'unavailable', cause: expect.any(Error) });
  }
});

test('httpTransport options passed as undefined take their defaults (5 retries, a 10 s timeout); invalid ones and a bad url are PublishError invalid_config', async () => {
  let requests = 0;
  const refusing = createServer((_req, res) => void (requests++, res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"source_unavailable"}')));
  await new Promise<void>((ok) => refusing.listen(0, '127.0.0.1', ok));
  cleanups.push(() => new Promise((done) => refusing.close(done)));
  const url = `http://127.0.0.1:${(refusing.address() as { port: number }).port}`;
  const unset = createPublisher(httpTransport({ url, retries: undefined, timeoutMs: undefined, baseDelayMs: 1, maxDelayMs: 1 }));
  await expect(unset.publish(TOPIC, 'x')).rejects.toMatchObject({ name: 'PublishError', code: 'source_unavailable', status: 503 });
  expect(requests).toBe(6);
  for (const options of [{ url: 'relay.example.com' }, { url, retries: -1 }, { url, retries: 1.5 }, { url, timeoutMs: 0 }, { url, maxDelayMs: Number.NaN }]) {
    expect(() => httpTransport(options)).toThrow(expect.objectContaining({ name: 'PublishError', code: 'invalid_config' }));
  }
});

test('http transport: a Retry-After longer than a timer can hold (a month) gives up at once, not in a tight loop', async () => {
  let requests = 0;
  const month = String(31 * 24 * 3600);
  const refusing = createServer((_req, res) => void (requests++, res.writeHead(503, { 'content-type': 'application/json', 'retry-after': month }).end('{"error":"source_unavailable"}')));
  await new Promise<void>((ok) => refusing.listen(0, '127.0.0.1', ok));
  cleanups.push(() => new Promise((done) => refusing.close(done)));
  const url = `http://127.0.0.1:${(refusing.address() as { port: number }).port}`;
  await expect(createPublisher(httpTransport({ url, retries: 50 })).publish(TOPIC, 'x')).rejects.toMatchObject({ code: 'source_unavailable', status: 503 });
  expect(requests).toBe(1);
});
