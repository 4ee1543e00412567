import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventSource } from 'eventsource';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction } from '../support/lambda/run-function.js';
import { publish } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';

// Queue mode on Lambda as serverless.yml deploys it (source=sqs): stream and publish bundled as shipped, under
// aws-lambda-ric against the SQS emulator, one browser per topic, so each stream holds a sandbox of its own with its own
// receiver. The queues are laid out as the template creates them: sqsQueues=per-topic gives every topic the queue
// <prefix><topic> redriving to one dead-letter queue after 5 receives; sqsQueues=shared is one queue with the same
// redrive. The shared run is the control: it shows that this setup does lose messages where the layout lets it.
const TOPICS = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5', 'user-6'];
const ROUNDS = 8;
const PREFIX = 'sse-relay-test-topic-';

let taskRoot: string;
let sqs: LocalSqs;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-sqs-topics-'));
  await bundleFunctions(taskRoot, ['stream', 'publish']);
  sqs = await startLocalSqs();
}, 30_000);

afterAll(async () => {
  await sqs?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

/** Where the messages wait: the queues' names, their dead-letter queue's, and the variables serverless.yml sets. */
interface Layout { queues: string[]; dlq: string; env: Record<string, string> }

function queueWithRedrive(name: string, dlq: string): string {
  const deadLetterTargetArn = sqs.server.inspectQueue(dlq)?.arn as string;
  return sqs.createQueue(name, { VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({ deadLetterTargetArn, maxReceiveCount: 5 }) });
}

function perTopicLayout(): Layout {
  const dlq = 'sse-relay-test-topics-dlq';
  sqs.createQueue(dlq);
  const urls = TOPICS.map((topic) => queueWithRedrive(`${PREFIX}${topic}`, dlq));
  const template = (urls[0] as string).replace(`${PREFIX}${TOPICS[0]}`, `${PREFIX}{topic}`);
  return { queues: TOPICS.map((topic) => `${PREFIX}${topic}`), dlq, env: { SQS_QUEUE_URL: '', SQS_QUEUE_URL_TEMPLATE: template } };
}

function sharedLayout(): Layout {
  const dlq = 'sse-relay-test-events-dlq';
  sqs.createQueue(dlq);
  return { queues: ['sse-relay-test-events'], dlq, env: { SQS_QUEUE_URL: queueWithRedrive('sse-relay-test-events', dlq) } };
}

function bodies(queue: string): string[] {
  const messages = sqs.server.inspectQueue(queue)?.messages;
  if (messages === undefined) return [];
  return [...messages.ready, ...messages.delayed, ...messages.inflight.map((entry) => entry.message)].map((m) => m.body);
}

/** POST /ack to any sandbox; a 429 (every sandbox busy) is tried again, as RelayClient does. */
async function acknowledge(url: string, topic: string, id: string): Promise<number> {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(`${url}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic, ids: [id] }) });
    await response.arrayBuffer();
    if (response.status !== 429 || attempt === 20) return response.status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Delivery { received: Map<string, string[]>; dead: string[]; ackStatuses: number[]; noQueue: number[] }

/**
 * One browser per topic through the stream function; ROUNDS messages per topic through the publish function. Then a
 * topic that has no queue, on both functions (`noQueue`: the statuses of publish and stream).
 */
async function deliverThrough(layout: Layout): Promise<Delivery> {
  const env = {
    ...sqs.env('', layout.env), AUTH_MODE: 'none', LOG_LEVEL: 'warn', RETRY_MS: '100', SQS_WAIT_SECONDS: '1',
    QUEUE_ACK: 'client', QUEUE_PREFETCH: '3', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
  };
  // A stream stays in one invocation for the whole run (as a browser does for up to 15 minutes on Lambda); POST /ack
  // reaches the sandboxes beyond the streams'.
  const stream = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 60_000, maxConcurrency: TOPICS.length + 4 });
  const publisher = await startLambdaFunction({ taskRoot, handler: 'functions/publish.handler', env, mode: 'buffered', maxConcurrency: 1 });
  const received = new Map(TOPICS.map((topic) => [topic, [] as string[]]));
  const acks: Promise<number>[] = [];
  const sources = TOPICS.map((topic) => {
    const source = new EventSource(`${stream.url}/events?topic=${topic}`);
    source.onmessage = (event) => {
      received.get(topic)?.push(event.data);
      acks.push(acknowledge(stream.url, topic, event.lastEventId));
    };
    return source;
  });
  try {
    await waitFor(() => sources.every((s) => s.readyState === EventSource.OPEN), () => `every stream open\n${stream.logs()}`, 20_000);
    const dead = (): string[] => bodies(layout.dlq);
    const seen = (body: string): boolean => [...received.values()].some((list) => list.includes(body)) || dead().includes(body);
    for (let round = 0; round < ROUNDS; round += 1) {
      const sent = TOPICS.map((topic) => `${topic}:${round}`);
      for (const [i, topic] of TOPICS.entries()) expect((await publish(publisher.url, { topic, data: sent[i] })).status).toBe(202);
      await waitFor(() => sent.every(seen), () => `round ${round} delivered or dead-lettered\n${stream.logs()}`, { timeoutMs: 20_000, everyMs: 50 });
    }
    const ackStatuses = await Promise.all(acks);
    // Acknowledged messages are deleted; whatever was not delivered has reached the dead-letter queue.
    await waitFor(() => layout.queues.every((queue) => bodies(queue).length === 0), 'every queue emptied', { timeoutMs: 10_000, everyMs: 50 });
    const opened = await fetch(`${stream.url}/events?topic=no-queue`);
    await opened.body?.cancel();
    const noQueue = [(await publish(publisher.url, { topic: 'no-queue', data: 'x' })).status, opened.status];
    return { received, dead: dead(), ackStatuses, noQueue };
  } finally {
    for (const source of sources) source.close();
    await Promise.all([stream.stop(), publisher.stop()]);
  }
}

describe('Lambda queue mode, one browser (one sandbox) per topic', () => {
  it(`sqsQueues=per-topic: ${TOPICS.length} topics × ${ROUNDS} messages, every message delivered to its topic, none dead-lettered`, async () => {
    const { received, dead, ackStatuses, noQueue } = await deliverThrough(perTopicLayout());
    console.log(`per-topic queues: ${TOPICS.length} sandboxes, ${[...received.values()].flat().length} of ${TOPICS.length * ROUNDS} delivered, ${dead.length} in the DLQ`);
    expect(dead).toEqual([]);
    for (const topic of TOPICS) expect(received.get(topic)).toEqual(Array.from({ length: ROUNDS }, (_, round) => `${topic}:${round}`));
    expect(ackStatuses.filter((status) => status !== 200)).toEqual([]);
    // A topic whose queue was never created: refused on both functions (503 source_unavailable), never a silent drop.
    expect(noQueue).toEqual([503, 503]);
  }, 120_000);

  it('control, sqsQueues=shared with the same browsers: the sandboxes release each other\'s messages into the DLQ', async () => {
    const { received, dead } = await deliverThrough(sharedLayout());
    const delivered = [...received.values()].flat();
    console.log(`shared queue: ${TOPICS.length} sandboxes, ${delivered.length} of ${TOPICS.length * ROUNDS} delivered, ${dead.length} in the DLQ`);
    for (const [topic, list] of received) expect(list.every((body) => body.startsWith(`${topic}:`))).toBe(true);
    expect(delivered.length + dead.length).toBe(TOPICS.length * ROUNDS);
    // The loss the package step refuses (sqsQueues=shared with several sqsTopics) and docs/lambda.md describes.
    expect(dead.length).toBeGreaterThan(0);
  }, 120_000);
});
