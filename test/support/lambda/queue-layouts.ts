import { EventSource } from 'eventsource';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalSqs, type LocalSqs } from '../../sqs/fauxqs.js';
import { publish } from '../relay-server.js';
import { waitFor } from '../wait-for.js';
import { bundleFunctions } from './bundle-functions.js';
import { startLambdaFunction } from './run-function.js';

// Queue mode on Lambda as serverless.yml deploys it (source=sqs): stream and publish bundled as shipped, under
// aws-lambda-ric against the SQS emulator, one browser per topic, so each stream holds a sandbox of its own with its own
// receiver. The queues are laid out as the template creates them: sqsQueues=per-topic gives every topic the queue
// <prefix><topic> redriving to one dead-letter queue after 5 receives; sqsQueues=shared is one queue with the same
// redrive. Used by test/lambda/stream-sqs-per-topic.test.ts and `node scripts/sqs-queue-layouts.mjs` (larger counts).

/** Where the messages wait: the queues' names, their dead-letter queue's, and the variables serverless.yml sets. */
export interface QueueLayout { queues: string[]; dlq: string; env: Record<string, string> }

/** What the browsers got, what reached the dead-letter queue, and the statuses of the acknowledgements. */
export interface Delivery { received: Map<string, string[]>; dead: string[]; ackStatuses: number[]; noQueue: number[] }

function queueWithRedrive(sqs: LocalSqs, name: string, dlq: string): string {
  const deadLetterTargetArn = sqs.server.inspectQueue(dlq)?.arn as string;
  return sqs.createQueue(name, { VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({ deadLetterTargetArn, maxReceiveCount: 5 }) });
}

/** sqsQueues=per-topic: `<prefix><topic>` for each topic, redriving to `<prefix without "topic-">topics-dlq`. */
export function perTopicLayout(sqs: LocalSqs, topics: readonly string[], prefix: string): QueueLayout {
  const dlq = `${prefix.replace(/topic-$/, '')}topics-dlq`;
  sqs.createQueue(dlq);
  const urls = topics.map((topic) => queueWithRedrive(sqs, `${prefix}${topic}`, dlq));
  const template = (urls[0] as string).replace(`${prefix}${topics[0]}`, `${prefix}{topic}`);
  return { queues: topics.map((topic) => `${prefix}${topic}`), dlq, env: { SQS_QUEUE_URL: '', SQS_QUEUE_URL_TEMPLATE: template } };
}

/** sqsQueues=shared: one queue `name` redriving to `name-dlq`. */
export function sharedLayout(sqs: LocalSqs, name: string): QueueLayout {
  const dlq = `${name}-dlq`;
  sqs.createQueue(dlq);
  return { queues: [name], dlq, env: { SQS_QUEUE_URL: queueWithRedrive(sqs, name, dlq) } };
}

/** The bodies a queue holds, visible, delayed or in flight. */
export function bodies(sqs: LocalSqs, queue: string): string[] {
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

/** One EventSource per topic on the stream function URL, each acknowledging every message it gets. */
function openBrowsers(url: string, topics: readonly string[]): { sources: EventSource[]; received: Map<string, string[]>; acks: Promise<number>[] } {
  const received = new Map(topics.map((topic) => [topic, [] as string[]]));
  const acks: Promise<number>[] = [];
  const sources = topics.map((topic) => {
    const source = new EventSource(`${url}/events?topic=${topic}`);
    source.onmessage = (event) => {
      received.get(topic)?.push(event.data);
      acks.push(acknowledge(url, topic, event.lastEventId));
    };
    return source;
  });
  return { sources, received, acks };
}

/**
 * One browser per topic through the stream function; `rounds` messages per topic through the publish function, a round
 * at a time until each of its messages is delivered or dead-lettered. Then a topic that has no queue, on both
 * functions (`noQueue`: the statuses of publish and stream).
 */
export async function deliverThrough(sqs: LocalSqs, taskRoot: string, layout: QueueLayout, topics: readonly string[], rounds: number): Promise<Delivery> {
  const env = {
    ...sqs.env('', layout.env), AUTH_MODE: 'none', LOG_LEVEL: 'warn', RETRY_MS: '100', SQS_WAIT_SECONDS: '1',
    QUEUE_ACK: 'client', QUEUE_PREFETCH: '3', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
  };
  // A stream stays in one invocation for the whole run (as a browser does for up to 15 minutes on Lambda); POST /ack
  // reaches the sandboxes beyond the streams'.
  const stream = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 120_000, maxConcurrency: topics.length + 4 });
  const publisher = await startLambdaFunction({ taskRoot, handler: 'functions/publish.handler', env, mode: 'buffered', maxConcurrency: 1 });
  const { sources, received, acks } = openBrowsers(stream.url, topics);
  try {
    await waitFor(() => sources.every((s) => s.readyState === EventSource.OPEN), () => `every stream open\n${stream.logs()}`, 30_000);
    const dead = (): string[] => bodies(sqs, layout.dlq);
    const seen = (body: string): boolean => [...received.values()].some((list) => list.includes(body)) || dead().includes(body);
    for (let round = 0; round < rounds; round += 1) {
      const sent = topics.map((topic) => `${topic}:${round}`);
      for (const [i, topic] of topics.entries()) {
        const answer = await publish(publisher.url, { topic, data: sent[i] });
        if (answer.status !== 202) throw new Error(`publish to ${topic} answered ${answer.status} ${JSON.stringify(answer.json)}\n${publisher.logs()}`);
      }
      await waitFor(() => sent.every(seen), () => `round ${round} delivered or dead-lettered\n${stream.logs()}`, { timeoutMs: 20_000, everyMs: 50 });
    }
    const ackStatuses = await Promise.all(acks);
    // Acknowledged messages are deleted; whatever was not delivered has reached the dead-letter queue.
    await waitFor(() => layout.queues.every((queue) => bodies(sqs, queue).length === 0), 'every queue emptied', { timeoutMs: 10_000, everyMs: 50 });
    const opened = await fetch(`${stream.url}/events?topic=no-queue`);
    await opened.body?.cancel();
    const noQueue = [(await publish(publisher.url, { topic: 'no-queue', data: 'x' })).status, opened.status];
    return { received, dead: dead(), ackStatuses, noQueue };
  } finally {
    for (const source of sources) source.close();
    await Promise.all([stream.stop(), publisher.stop()]);
  }
}

/** Prints delivered / dead-lettered for both layouts with `sandboxes` browsers (one topic each) × `rounds` messages. */
export async function measureQueueLayouts(sandboxes: number, rounds: number): Promise<void> {
  const taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-queue-layouts-'));
  const sqs = await startLocalSqs();
  try {
    await bundleFunctions(taskRoot, ['stream', 'publish']);
    const topics = Array.from({ length: sandboxes }, (_, i) => `user-${i + 1}`);
    console.log('layout | sandboxes (one topic each) | messages | delivered | dead-lettered');
    for (const [name, layout] of [['per-topic', perTopicLayout(sqs, topics, 'measure-topic-')], ['shared', sharedLayout(sqs, 'measure-events')]] as const) {
      const { received, dead } = await deliverThrough(sqs, taskRoot, layout, topics, rounds);
      console.log(`${name} | ${sandboxes} | ${sandboxes * rounds} | ${[...received.values()].flat().length} | ${dead.length}`);
    }
  } finally {
    await sqs.stop();
    await rm(taskRoot, { recursive: true, force: true });
  }
}
