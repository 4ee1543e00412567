import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { EventSource } from 'eventsource';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';

// functions/stream.ts, bundled as shipped, under aws-lambda-ric with SOURCE=sqs against the SQS emulator.
let taskRoot: string;
let sqs: LocalSqs;
let queueUrl: string;
let fn: LambdaFunction;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-sqs-'));
  await bundleFunctions(taskRoot, ['stream']);
  sqs = await startLocalSqs();
  queueUrl = sqs.createQueue('lambda-jobs');
  const env = sqs.env(queueUrl, {
    AUTH_MODE: 'none', LOG_LEVEL: 'warn', RETRY_MS: '100', LAMBDA_DEADLINE_MARGIN_MS: '1500', SQS_WAIT_SECONDS: '1',
    // A long poll cut by the end of an invocation may have taken a message the consumer never saw; it comes back
    // after the visibility timeout (at-least-once), so keep that short here.
    SQS_VISIBILITY_TIMEOUT_S: '2',
    // On Lambda the role's credentials arrive in these variables too.
    AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
  });
  fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 5_000, maxConcurrency: 1 });
}, 30_000);

afterAll(async () => {
  await fn?.stop();
  await sqs?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

describe('Lambda path with SOURCE=sqs', () => {
  it('delivers every queued message (at least once) to an EventSource across 5 s invocations', async () => {
    const received: string[] = [];
    const source = new EventSource(`${fn.url}/events?topic=jobs`);
    source.onmessage = (event) => received.push(event.data);
    const sent: string[] = [];
    const startedAt = Date.now();
    for (let i = 0; i < 14; i += 1) {
      const body = JSON.stringify({ job: i });
      await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
      sent.push(body);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const until = Date.now() + 10_000;
    while (!sent.every((body) => received.includes(body)) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
    source.close();
    expect(Date.now() - startedAt).toBeGreaterThan(5_000);
    expect([...new Set(received)].sort()).toEqual([...sent].sort());
    expect(fn.coldStartsMs()).toHaveLength(1);
  }, 40_000);
});
