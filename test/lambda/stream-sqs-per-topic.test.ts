import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { deliverThrough, perTopicLayout, sharedLayout } from '../support/lambda/queue-layouts.js';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';

// Lambda queue mode (source=sqs) as serverless.yml deploys it, one browser per topic, each stream in a sandbox of its
// own (test/support/lambda/queue-layouts.ts). sqsQueues=per-topic must deliver everything; the shared run is the
// control, showing that this setup does lose messages where the layout lets it (what the package step refuses).
// Larger counts: `node scripts/sqs-queue-layouts.mjs --sandboxes 20 --rounds 10`.
const TOPICS = ['user-1', 'user-2', 'user-3', 'user-4', 'user-5', 'user-6'];
const ROUNDS = 8;

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

describe('Lambda queue mode, one browser (one sandbox) per topic', () => {
  it(`sqsQueues=per-topic: ${TOPICS.length} topics × ${ROUNDS} messages, every message delivered to its topic, none dead-lettered`, async () => {
    const layout = perTopicLayout(sqs, TOPICS, 'sse-relay-test-topic-');
    const { received, dead, ackStatuses, noQueue } = await deliverThrough(sqs, taskRoot, layout, TOPICS, ROUNDS);
    console.log(`per-topic queues: ${TOPICS.length} sandboxes, ${[...received.values()].flat().length} of ${TOPICS.length * ROUNDS} delivered, ${dead.length} in the DLQ`);
    expect(dead).toEqual([]);
    for (const topic of TOPICS) expect(received.get(topic)).toEqual(Array.from({ length: ROUNDS }, (_, round) => `${topic}:${round}`));
    expect(ackStatuses.filter((status) => status !== 200)).toEqual([]);
    // A topic whose queue was never created: refused on both functions (503 source_unavailable), never a silent drop.
    expect(noQueue).toEqual([503, 503]);
  }, 120_000);

  it('control, sqsQueues=shared with the same browsers: the sandboxes release each other\'s messages into the DLQ', async () => {
    const { received, dead } = await deliverThrough(sqs, taskRoot, sharedLayout(sqs, 'sse-relay-test-events'), TOPICS, ROUNDS);
    const delivered = [...received.values()].flat();
    console.log(`shared queue: ${TOPICS.length} sandboxes, ${delivered.length} of ${TOPICS.length * ROUNDS} delivered, ${dead.length} in the DLQ`);
    for (const [topic, list] of received) expect(list.every((body) => body.startsWith(`${topic}:`))).toBe(true);
    expect(delivered.length + dead.length).toBe(TOPICS.length * ROUNDS);
    // The loss the package step refuses (sqsQueues=shared with several sqsTopics) and docs/lambda.md describes.
    expect(dead.length).toBeGreaterThan(0);
  }, 120_000);
});
