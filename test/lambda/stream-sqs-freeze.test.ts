import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { waitFor } from '../support/wait-for.js';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';

// Lambda freezes a sandbox as soon as its runtime asks for the next event; the local runtime API does the same here
// (SIGSTOP, SIGCONT on the next event). What a stream gives back when it ends (its unacknowledged messages) must have
// reached SQS before that, or it waits out the whole visibility timeout (30 s here) in a frozen sandbox.
let taskRoot: string;
let sqs: LocalSqs;
let queueUrl: string;
let fn: LambdaFunction;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-freeze-'));
  await bundleFunctions(taskRoot, ['stream']);
  sqs = await startLocalSqs();
  queueUrl = sqs.createQueue('frozen-jobs');
  const env = sqs.env(queueUrl, {
    AUTH_MODE: 'none', LOG_LEVEL: 'warn', RETRY_MS: '100', SQS_WAIT_SECONDS: '1', SQS_VISIBILITY_TIMEOUT_S: '30',
    // No acknowledgement for 1.5 s ends the stream (the idle budget under QUEUE_ACK=client), holding one message.
    QUEUE_ACK: 'client', QUEUE_PREFETCH: '1', SESSION_IDLE_MS: '1500', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
  });
  fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 20_000, maxConcurrency: 2 });
}, 30_000);

afterAll(async () => {
  await fn?.stop();
  await sqs?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

function counts(): { ready: number; inflight: number } {
  const messages = sqs.server.inspectQueue('frozen-jobs')?.messages;
  return { ready: messages?.ready.length ?? 0, inflight: messages?.inflight.length ?? 0 };
}

it('a message held unacknowledged when the invocation ends is back in the queue before the sandbox freezes', async () => {
  for (let round = 0; round < 3; round += 1) {
    await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `job ${round}` }));
    const response = await fetch(`${fn.url}/events?topic=jobs`);
    const reader = response.body!.getReader();
    let text = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += Buffer.from(chunk.value).toString('utf8');
    // The stream delivered the message, was never acknowledged, and ended by its idle budget.
    expect(text).toContain(`data: job ${round}`);
    await waitFor(() => counts().ready === 1 && counts().inflight === 0, `round ${round}: the unacknowledged message released to the queue (${JSON.stringify(counts())})`, 5_000);
    // Emptied for the next round, so every round starts from one message.
    await sqs.client.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
    await waitFor(() => counts().ready === 0, 'the queue purged');
  }
}, 60_000);

it('a message sent as an idle stream ends is not taken into the frozen sandbox by the stream\'s last long poll', async () => {
  for (let round = 0; round < 3; round += 1) {
    const response = await fetch(`${fn.url}/events?topic=jobs`);
    const text = await response.text();
    // Nothing was queued: the stream ended by its idle budget with its long poll still waiting at SQS.
    expect(text).not.toContain('data:');
    await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `late ${round}` }));
    await waitFor(() => counts().ready === 1 && counts().inflight === 0, `round ${round}: the late message visible in the queue (${JSON.stringify(counts())})`, 5_000);
    await sqs.client.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
    await waitFor(() => counts().ready === 0, 'the queue purged');
  }
}, 60_000);
