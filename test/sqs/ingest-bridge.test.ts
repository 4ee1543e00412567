import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { Redis } from 'ioredis';
import type { closeBridge, handler } from '../../functions/ingest.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';


let redis: TestRedis;
let client: Redis;
// Imported after the environment is set (the bridge reads it on first use).
let ingest: { handler: typeof handler; closeBridge: typeof closeBridge };

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  Object.assign(process.env, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'bridge:', LOG_LEVEL: 'silent', INGEST_TOPIC: 'fallback', AUTH_MODE: 'none' });
  ingest = await import('../../functions/ingest.js');
});

afterAll(async () => {
  await ingest?.closeBridge();
  client?.disconnect();
  await redis?.stop();
});

function record(messageId: string, body: string, attributes: Record<string, string> = {}): SQSRecord {
  const messageAttributes = Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { stringValue: v, dataType: 'String' }]));
  return {
    messageId, receiptHandle: `rh-${messageId}`, body, attributes: {} as SQSRecord['attributes'], messageAttributes,
    md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:events', awsRegion: 'us-east-1',
  } as SQSRecord;
}

async function stream(topic: string): Promise<{ event: string; data: string }[]> {
  const entries = await client.xrange(`bridge:${topic}`, '-', '+');
  return entries.map(([, fields]) => ({ event: fields[fields.indexOf('event') + 1] as string, data: fields[fields.indexOf('data') + 1] as string }));
}

test('one bad record in a batch is the only batchItemFailure; the rest are in Redis, once, even when redelivered', async () => {
  const batch: SQSEvent = {
    Records: [
      record('m1', '{"n":1}', { topic: 'orders' }),
      record('m2', '{"n":2}', { topic: 'orders', event: 'bad\nevent' }),
      record('m3', '{"n":3}', { topic: 'orders', event: 'shipped' }),
      record('m4', '{"n":4}'),
    ],
  };
  expect(await ingest.handler(batch)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
  expect(await stream('orders')).toEqual([{ event: 'message', data: '{"n":1}' }, { event: 'shipped', data: '{"n":3}' }]);
  expect(await stream('fallback')).toEqual([{ event: 'message', data: '{"n":4}' }]);

  // Lambda redelivers the whole batch when an invocation times out: MessageIds make the appends idempotent.
  expect(await ingest.handler(batch)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
  expect(await stream('orders')).toHaveLength(2);
  expect(await stream('fallback')).toHaveLength(1);
});

test('a FIFO batch stops at its first failure and reports every later record, so order survives the retry', async () => {
  const fifo = (r: SQSRecord): SQSRecord => ({ ...r, eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:events.fifo' });
  const batch: SQSEvent = {
    Records: [record('f1', 'a', { topic: 'seq' }), record('f2', 'b', { topic: 'not a topic!' }), record('f3', 'c', { topic: 'seq' })].map(fifo),
  };
  expect(await ingest.handler(batch)).toEqual({ batchItemFailures: [{ itemIdentifier: 'f2' }, { itemIdentifier: 'f3' }] });
  expect((await stream('seq')).map((e) => e.data)).toEqual(['a']);
});

test('a record the stream reader would skip fails in batchItemFailures (so it reaches the DLQ), and a non-String topic is invalid', async () => {
  const binaryTopic = record('b1', 'binary topic');
  binaryTopic.messageAttributes = { topic: { dataType: 'Binary', binaryValue: Buffer.from('orders').toString('base64') } as SQSRecord['messageAttributes'][string] };
  const numberEvent = record('b2', 'number event', { topic: 'strict' });
  numberEvent.messageAttributes['event'] = { dataType: 'Number', stringValue: '42' } as SQSRecord['messageAttributes'][string];
  const batch: SQSEvent = {
    Records: [
      record('s1', 'fine', { topic: 'strict' }),
      record('s2', 'long event', { topic: 'strict', event: 'e'.repeat(200) }),
      record('s3', 'reserved event', { topic: 'strict', event: 'relay.reset' }),
      binaryTopic,
      numberEvent,
    ],
  };
  const { batchItemFailures } = await ingest.handler(batch);
  expect(batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['b1', 'b2', 's2', 's3']);
  expect((await stream('strict')).map((e) => e.data)).toEqual(['fine']);
  // The Binary topic did not fall back to INGEST_TOPIC.
  expect((await stream('fallback')).map((e) => e.data)).not.toContain('binary topic');
});
