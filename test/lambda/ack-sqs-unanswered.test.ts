import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';

// On Lambda every POST /ack lands on a sandbox other than the one holding the stream, which is frozen as soon as it has
// answered: the answer must say whether SQS deleted the message, or a browser told 200 sees it again later.
let taskRoot: string;
let sqs: LocalSqs;
let queueUrl: string;
let fn: LambdaFunction;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-ack-'));
  await bundleFunctions(taskRoot, ['stream']);
  sqs = await startLocalSqs();
  queueUrl = sqs.createQueue('acked');
  const env = sqs.env(queueUrl, {
    AUTH_MODE: 'none', LOG_LEVEL: 'error', SQS_WAIT_SECONDS: '1', QUEUE_ACK: 'client', QUEUE_PREFETCH: '1',
    AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
  });
  fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 10_000, maxConcurrency: 2 });
}, 30_000);

afterAll(async () => {
  await fn?.stop();
  await sqs?.stop().catch(() => undefined);
  await rm(taskRoot, { recursive: true, force: true });
});

function acknowledge(id: string): Promise<Response> {
  return fetch(`${fn.url}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'jobs', ids: [id] }) });
}

/** Opens a stream and reads until its first event's id. */
async function firstId(): Promise<{ id: string; stop: () => Promise<void> }> {
  const response = await fetch(`${fn.url}/events?topic=jobs`);
  const reader = response.body!.getReader();
  let text = '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += Buffer.from(chunk.value).toString('utf8');
    const id = /^id: (.+)$/m.exec(text)?.[1];
    if (id !== undefined) return { id, stop: () => reader.cancel() };
  }
  throw new Error(`the stream ended without an event:\n${text}\n${fn.logs()}`);
}

it('an acknowledgement SQS does not answer is a 503 source_unavailable to retry, not a 200 for a message that comes back', async () => {
  await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'job' }));
  const held = await firstId();
  try {
    await sqs.stop();
    const answer = await acknowledge(held.id);
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await answer.json()).toMatchObject({ error: 'source_unavailable' });
  } finally {
    await held.stop();
  }
}, 30_000);
