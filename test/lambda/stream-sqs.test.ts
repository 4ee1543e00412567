import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { EventSource } from 'eventsource';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { waitFor } from '../support/wait-for.js';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';

// functions/stream.ts, bundled as shipped, under aws-lambda-ric with SOURCE=sqs against the SQS emulator. Lambda never
// reports a client that left, so queue sources there run with QUEUE_ACK=client: the browser acknowledges with POST /ack,
// which reaches another sandbox and deletes the message by its handle.
let taskRoot: string;
let sqs: LocalSqs;
let queueUrl: string;
let fn: LambdaFunction;
let baseEnv: Record<string, string>;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-sqs-'));
  await bundleFunctions(taskRoot, ['stream']);
  sqs = await startLocalSqs();
  queueUrl = sqs.createQueue('lambda-jobs');
  baseEnv = sqs.env(queueUrl, {
    AUTH_MODE: 'none', LOG_LEVEL: 'warn', RETRY_MS: '100', LAMBDA_DEADLINE_MARGIN_MS: '1500', SQS_WAIT_SECONDS: '1',
    // A long poll cut by the end of an invocation may have taken a message the consumer never saw; it comes back
    // after the visibility timeout (at-least-once), so keep that short here.
    SQS_VISIBILITY_TIMEOUT_S: '2',
    // On Lambda the role's credentials arrive in these variables too.
    AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
  });
  const env = { ...baseEnv, QUEUE_ACK: 'client', QUEUE_PREFETCH: '3', QUEUE_ACK_TIMEOUT_MS: '2000' };
  // One sandbox holds the stream, others answer POST /ack, as on Lambda. Up to QUEUE_PREFETCH acks are in flight, and
  // a reconnect's invocation overlaps the end of the last one; on a loaded machine slow sandboxes overlap more, so the
  // local front end gets the headroom an account's concurrency gives (it answers 429 beyond it, as Lambda throttles).
  fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 5_000, maxConcurrency: 8 });
}, 30_000);

afterAll(async () => {
  await fn?.stop();
  await sqs?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

function stored(): number {
  const messages = sqs.server.inspectQueue('lambda-jobs')?.messages;
  return (messages?.ready.length ?? 0) + (messages?.inflight.length ?? 0) + (messages?.delayed.length ?? 0);
}

function acknowledge(id: string): Promise<Response> {
  return fetch(`${fn.url}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'jobs', ids: [id] }) });
}

describe('Lambda path with SOURCE=sqs and QUEUE_ACK=client', () => {
  it('delivers every queued message to an EventSource that acknowledges, across 5 s invocations', async () => {
    const received: string[] = [];
    const acks: Promise<Response>[] = [];
    const source = new EventSource(`${fn.url}/events?topic=jobs`);
    source.onmessage = (event) => {
      received.push(event.data);
      acks.push(acknowledge(event.lastEventId));
    };
    let opens = 0;
    source.onopen = () => void (opens += 1);
    const sent: string[] = [];
    // Seven messages in one invocation, seven more once the stream has been reopened in the next one.
    for (const half of [0, 1]) {
      if (half === 1) {
        const before = opens;
        await waitFor(() => opens > before, 'the EventSource reopening in a new invocation', 10_000);
      }
      for (let i = 0; i < 7; i += 1) {
        const body = JSON.stringify({ job: half * 7 + i });
        await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
        sent.push(body);
        // One at a time: its acknowledgement is answered before the next goes out, as the function has four sandboxes
        // and one of them holds the stream (a burst of acks would meet 429s).
        await waitFor(() => received.includes(body), `job ${half * 7 + i} received`, { timeoutMs: 15_000, everyMs: 50 });
        await acks.at(-1);
      }
    }
    source.close();
    expect(opens).toBeGreaterThanOrEqual(2);
    expect([...new Set(received)].sort()).toEqual([...sent].sort());
    expect((await Promise.all(acks)).map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    await waitFor(() => stored() === 0, 'every acknowledged message deleted', { timeoutMs: 10_000, everyMs: 100 });
  }, 40_000);

  it('a browser that vanished takes nothing with it: what was pushed after it left is all still in the queue', async () => {
    const source = new EventSource(`${fn.url}/events?topic=jobs`);
    const first: string[] = [];
    source.onmessage = (event) => void (first.push(event.data), acknowledge(event.lastEventId));
    await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'before' }));
    await waitFor(() => first.length === 1, 'the first message', { timeoutMs: 10_000, everyMs: 50 });
    await waitFor(() => stored() === 0, 'the first message acknowledged', { timeoutMs: 10_000, everyMs: 50 });
    // Lambda does not notice this: the invocation goes on, writing into a connection nobody reads.
    source.close();
    for (let i = 0; i < 6; i += 1) await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `after-${i}` }));
    // Past the acknowledgement timeout and the end of the invocation, every message is still there.
    await waitFor(() => sqs.server.inspectQueue('lambda-jobs')?.messages.ready.length === 6, 'all six visible in the queue again', { timeoutMs: 20_000, everyMs: 100 });
    expect(stored()).toBe(6);
    sqs.server.purgeAll();
  }, 30_000);

  it('refuses to start a queue source without QUEUE_ACK=client, naming the variable', async () => {
    const refusing = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env: baseEnv, timeoutMs: 5_000, maxConcurrency: 1 });
    try {
      const response = await fetch(`${refusing.url}/events?topic=jobs`);
      expect(response.status).toBe(500);
      expect(await response.json()).toMatchObject({ error: 'internal' });
      expect(refusing.logs()).toMatch(/QUEUE_ACK must be client on Lambda with SOURCE=sqs/);
    } finally {
      await refusing.stop();
    }
  }, 20_000);
});
