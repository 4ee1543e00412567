import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelayClient } from '../../public/sse-client.js';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { waitFor } from '../support/wait-for.js';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';

// On Lambda a stream holds an execution of the stream function for as long as it lasts, so a POST /ack sent to the
// same function URL needs another one: when the streams take every execution streamConcurrency allows, Lambda answers
// the acknowledgements 429 and their messages come back as duplicates. The publish function serves POST /ack too, and
// RelayClient's `ackUrl` sends them there: here the stream function may run one execution (the stream's), and every
// acknowledgement still lands at once.
let taskRoot: string;
let sqs: LocalSqs;
let queueUrl: string;
let env: Record<string, string>;
let publish: LambdaFunction;
const streams: LambdaFunction[] = [];

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-ack-'));
  await bundleFunctions(taskRoot, ['stream', 'publish']);
  sqs = await startLocalSqs();
  queueUrl = sqs.createQueue('ack-jobs');
  env = sqs.env(queueUrl, {
    // QUEUE_ACK=client for every function, as serverless.yml's provider environment sets it.
    AUTH_MODE: 'none', LOG_LEVEL: 'warn', RETRY_MS: '100', SQS_WAIT_SECONDS: '1', QUEUE_ACK: 'client', QUEUE_PREFETCH: '3',
    AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
  });
  publish = await startLambdaFunction({ taskRoot, handler: 'functions/publish.handler', env, mode: 'buffered', maxConcurrency: 4 });
}, 60_000);

afterAll(async () => {
  for (const stream of streams) await stream.stop();
  await publish?.stop();
  await sqs?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

/**
 * The stream function with streamConcurrency 1, which the test's one stream saturates (Lambda never sees a client
 * leave, so the execution stays taken after it closes: each test gets its own function).
 */
async function startStream(extra: Record<string, string> = {}): Promise<LambdaFunction> {
  const stream = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env: { ...env, ...extra }, timeoutMs: 20_000, maxConcurrency: 1 });
  streams.push(stream);
  return stream;
}

function stored(): number {
  const messages = sqs.server.inspectQueue('ack-jobs')?.messages;
  return (messages?.ready.length ?? 0) + (messages?.inflight.length ?? 0) + (messages?.delayed.length ?? 0);
}

/** A RelayClient with `ack` on `stream`, recording every event's data and every acknowledgement's URL and status. */
function ackingClient(stream: LambdaFunction, ackUrl?: string): { client: RelayClient; received: string[]; acks: { url: string; status: number }[] } {
  const received: string[] = [];
  const acks: { url: string; status: number }[] = [];
  const recordingFetch = async (input: URL, init: RequestInit): Promise<Response> => {
    const response = await fetch(input, init);
    if (init.method === 'POST') acks.push({ url: String(input), status: response.status });
    return response;
  };
  const client = new RelayClient(`${stream.url}/events`, { topics: ['jobs'], ack: true, fetch: recordingFetch, ...(ackUrl === undefined ? {} : { ackUrl }) });
  client.on('message', (data) => void received.push(String(data)));
  return { client, received, acks };
}

/**
 * Ends a test's stream. Its execution would go on (Lambda does not see the client leave) and take the next test's
 * messages, and the long poll it had open (SQS_WAIT_SECONDS) would still be handed the next one: that is waited out.
 */
async function finish(client: RelayClient, stream: LambdaFunction): Promise<void> {
  client.close();
  await stream.stop();
  await new Promise((resolve) => setTimeout(resolve, 1_500));
}

test('acknowledgements sent to the publish function (ackUrl) land while the stream holds every stream execution', async () => {
  const stream = await startStream();
  const { client, received, acks } = ackingClient(stream, `${publish.url}/ack`);
  try {
    await waitFor(() => client.state === 'open', () => `the stream to open: ${stream.logs().slice(-1500)}`, 15_000);
    for (let i = 0; i < 6; i += 1) await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `job-${i}` }));
    await waitFor(() => received.length >= 6 && acks.length >= 6 && stored() === 0, () => `every job received and deleted (received ${received.length}, stored ${stored()}, acks ${JSON.stringify(acks)})`, 15_000);
    expect([...received].sort()).toEqual(['job-0', 'job-1', 'job-2', 'job-3', 'job-4', 'job-5']);
    expect(acks).toEqual(Array.from({ length: 6 }, () => ({ url: `${publish.url}/ack`, status: 200 })));
  } finally {
    await finish(client, stream);
  }
}, 60_000);

test('told by the stream (QUEUE_ACK_URL, header sse-ack-url, as serverless.yml sets it), RelayClient acknowledges at the publish function', async () => {
  const stream = await startStream({ QUEUE_ACK_URL: `${publish.url}/ack` });
  const { client, received, acks } = ackingClient(stream);
  try {
    await waitFor(() => client.state === 'open', () => `the stream to open: ${stream.logs().slice(-1500)}`, 15_000);
    for (let i = 0; i < 4; i += 1) await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: `told-${i}` }));
    await waitFor(() => received.length >= 4 && acks.length >= 4 && stored() === 0, () => `every job received and deleted (received ${received.length}, stored ${stored()}, acks ${JSON.stringify(acks)})`, 15_000);
    expect(acks).toEqual(Array.from({ length: 4 }, () => ({ url: `${publish.url}/ack`, status: 200 })));
  } finally {
    await finish(client, stream);
  }
}, 60_000);

test('told nothing (no ackUrl, no QUEUE_ACK_URL), RelayClient acknowledges next to the events URL, where the saturated stream function answers 429', async () => {
  const stream = await startStream();
  const { client, received, acks } = ackingClient(stream);
  try {
    await waitFor(() => client.state === 'open', () => `the stream to open: ${stream.logs().slice(-1500)}`, 15_000);
    await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'lonely' }));
    await waitFor(() => received.length >= 1 && acks.length >= 1, () => `the job and its first acknowledgement (received ${received.length}, acks ${JSON.stringify(acks)}, state ${client.state}, stored ${stored()})`, 15_000);
    expect(acks[0]).toEqual({ url: `${stream.url}/ack`, status: 429 });
  } finally {
    await finish(client, stream);
  }
}, 60_000);
