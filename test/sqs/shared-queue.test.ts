import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';
import { startLocalSqs, type LocalSqs } from './fauxqs.js';

const TOPICS = ['alpha', 'beta', 'gamma'];
const TOTAL = 300;

let sqs: LocalSqs;
let relay: Awaited<ReturnType<typeof startRelay>>;
let queueUrl: string;

beforeAll(async () => {
  sqs = await startLocalSqs();
  sqs.createQueue('shared-dlq');
  const dlqArn = sqs.server.inspectQueue('shared-dlq')?.arn as string;
  queueUrl = sqs.createQueue('shared', { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }) });
  relay = await startRelay(sqs.env(queueUrl, { SQS_WAIT_SECONDS: '1' }));
});

afterAll(async () => {
  await relay?.stop();
  await sqs?.stop();
});

test('three topics with live subscribers on one shared queue: every message to its topic, none to the DLQ (maxReceiveCount 5)', async () => {
  const readers = TOPICS.map((topic) => new SseReader(`${relay.url}/events?topic=${topic}`));
  await waitFor(() => readers.every((r) => r.status === 200), 'three streams open');
  for (let first = 0; first < TOTAL; first += 10) {
    const entries = Array.from({ length: 10 }, (_, i) => {
      const n = first + i;
      const topic = TOPICS[n % TOPICS.length] as string;
      return { Id: String(i), MessageBody: `${topic}:${n}`, MessageAttributes: { topic: { DataType: 'String', StringValue: topic } } };
    });
    await sqs.client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
  const dead = (): number => {
    const dlq = sqs.server.inspectQueue('shared-dlq')?.messages;
    return (dlq?.ready.length ?? 0) + (dlq?.inflight.length ?? 0) + (dlq?.delayed.length ?? 0);
  };
  const delivered = (): number => new Set(readers.flatMap((r) => r.events.map((e) => e.data))).size;
  await waitFor(() => delivered() + dead() >= TOTAL, `all ${TOTAL} messages delivered or dead-lettered`, 30_000);
  for (const [i, reader] of readers.entries()) {
    // Each subscriber got only its own topic's messages.
    expect(reader.events.every((e) => e.data.startsWith(`${TOPICS[i]}:`))).toBe(true);
    reader.close();
  }
  console.log(`shared queue: ${TOTAL} messages over ${TOPICS.length} topics, ${delivered()} delivered, ${dead()} in the DLQ`);
  expect(dead()).toBe(0);
  expect(delivered()).toBe(TOTAL);
}, 60_000);

test('SQS_QUEUE_TOPICS: a stream or publish of any other topic gets 400 invalid_topic and never touches the queue', async () => {
  const servedUrl = sqs.createQueue('served');
  const served = await startRelay(sqs.env(servedUrl, { SQS_WAIT_SECONDS: '1', SQS_QUEUE_TOPICS: 'alpha' }));
  try {
    const publish = (topic: string): Promise<Response> => fetch(`${served.url}/publish`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic, data: `for ${topic}` }),
    });
    expect((await publish('alpha')).status).toBe(202);
    for (const query of ['topic=beta', 'topic=alpha,beta', 'topic=alpha&topic=beta']) {
      const refused = await fetch(`${served.url}/events?${query}`);
      expect([query, refused.status, await refused.json()]).toMatchObject([query, 400, { error: 'invalid_topic' }]);
    }
    const refusedPublish = await publish('beta');
    expect([refusedPublish.status, await refusedPublish.json()]).toMatchObject([400, { error: 'invalid_topic' }]);
    // The served topic's message was never received (so never released towards the DLQ) by the refused streams.
    const messages = sqs.server.inspectQueue('served')?.messages;
    expect([messages?.ready.length, messages?.inflight.length]).toEqual([1, 0]);
    const reader = new SseReader(`${served.url}/events?topic=alpha`);
    await reader.until((r) => r.events.length === 1);
    expect(reader.events[0]?.data).toBe('for alpha');
    reader.close();
  } finally {
    await served.stop();
  }
}, 30_000);

test('a stopping relay leaves no long poll at SQS: a message sent as it stops stays visible for the next process', async () => {
  const stoppingUrl = sqs.createQueue('stopping');
  // A receive of 2 s in flight when a short drain begins; the ones during the drain wait 1 s.
  const stopping = await startRelay(sqs.env(stoppingUrl, { SQS_WAIT_SECONDS: '2', SHUTDOWN_DRAIN_MS: '300' }));
  const reader = new SseReader(`${stopping.url}/events?topic=alpha`);
  await waitFor(() => reader.status === 200, 'the stream open');
  const at = Date.now();
  await stopping.stop();
  reader.close();
  await sqs.client.send(new SendMessageBatchCommand({ QueueUrl: stoppingUrl, Entries: [{ Id: '0', MessageBody: 'after stop', MessageAttributes: { topic: { DataType: 'String', StringValue: 'alpha' } } }] }));
  // An abandoned long poll would take it now and hold it, invisible, for the 30 s visibility timeout.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const messages = sqs.server.inspectQueue('stopping')?.messages;
  expect([messages?.ready.length, messages?.inflight.length]).toEqual([1, 0]);
  expect(Date.now() - at).toBeLessThan(10_000);
}, 30_000);
