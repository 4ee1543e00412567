import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventSource } from 'eventsource';
import { Redis } from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { SseReader } from '../support/sse-reader.js';
import { startStreamPublisher, type StreamPublisher } from '../support/stream-publisher.js';
import { waitFor } from '../support/wait-for.js';

// LAMBDA_MAX_RESPONSE_BYTES under aws-lambda-ric: with a 1 KiB budget each invocation carries a handful of events and
// ends itself; the browser resumes from its last id in the next invocation.
const BUDGET = 1_024;
let taskRoot: string;
let redis: TestRedis;
let client: Redis;
let publisher: StreamPublisher;
let fn: LambdaFunction;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-budget-'));
  await bundleFunctions(taskRoot, ['stream']);
  redis = await startRedis();
  client = new Redis(redis.url);
  // About 20 events a second, ~120 bytes each on the wire: the budget runs out every half second or so.
  publisher = startStreamPublisher(client, 'sse:budget', ['ada', 'grace'], 50);
  const env = {
    AUTH_MODE: 'none', SOURCE: 'redis', REDIS_URL: redis.url, LOG_LEVEL: 'debug', RETRY_MS: '100',
    LAMBDA_MAX_RESPONSE_BYTES: String(BUDGET), LAMBDA_DEADLINE_MARGIN_MS: '2000',
  };
  fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 60_000, maxConcurrency: 1 });
}, 30_000);

afterAll(async () => {
  await publisher?.stop();
  await fn?.stop();
  client?.disconnect();
  await redis?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

describe('the response budget (LAMBDA_MAX_RESPONSE_BYTES)', () => {
  it('ends a stream soon after its budget is spent, with a final retry:, long before the deadline', async () => {
    const reader = new SseReader(`${fn.url}/events?topic=budget`);
    await reader.ended;
    expect([reader.status, reader.error]).toEqual([200, undefined]);
    expect(reader.retries).toHaveLength(2); // the first frame and the jittered one at the end
    expect(reader.events.length).toBeGreaterThan(0);
    const bytes = reader.events.reduce((sum, e) => sum + Buffer.byteLength(`id: ${e.id}\nevent: ${e.event}\ndata: ${e.data}\n\n`), 0);
    // At most one event-loop turn of frames goes out after the budget is reached.
    expect(bytes).toBeGreaterThanOrEqual(BUDGET - 200);
    expect(bytes).toBeLessThan(BUDGET + 1_024);
    // The function's log reaches the harness through a pipe, a little after the stream's last byte.
    await waitFor(() => fn.logs().includes('"reason":"response-budget"'), 'the response-budget end in the function\'s log', { everyMs: 50 }).catch(() => undefined);
    expect(fn.logs()).toContain('"reason":"response-budget"');
  }, 40_000);

  it('ends with the stream\'s position as an id-only frame, then the jittered retry:, as every server-initiated end', async () => {
    const body = await (await fetch(`${fn.url}/events?topic=budget`)).text();
    const ids = [...body.matchAll(/^id: (.*)$/gm)].map((m) => m[1]);
    const tail = /\n\nid: (budget=\d+-\d+)\n\nretry: (\d+)\n\n$/.exec(body);
    expect(tail).not.toBeNull();
    // The position names the last event the stream carried: resuming from it misses nothing and repeats nothing.
    expect(tail?.[1]).toBe(ids.at(-2));
    expect(Number(tail?.[2])).toBeGreaterThanOrEqual(50); // RETRY_MS=100, jittered over [50, 150)
    expect(Number(tail?.[2])).toBeLessThan(150);
  }, 40_000);

  it('lets an EventSource resume across many budget-ended invocations with no gap and no duplicate', async () => {
    const received: number[] = [];
    const source = new EventSource(`${fn.url}/events?topic=budget`);
    source.addEventListener('record', (event) => received.push((JSON.parse(event.data) as { count: number }).count));
    await waitFor(() => received.length >= 60, '60 records over budget-ended invocations', { timeoutMs: 20_000, everyMs: 50 }).catch(() => undefined);
    source.close();
    const first = received[0] ?? 0;
    expect(received).toEqual(Array.from({ length: received.length }, (_, i) => first + i));
    expect(received.length).toBeGreaterThanOrEqual(60);
    const ends = fn.logs().split('\n').filter((line) => line.includes('"reason":"response-budget"')).length;
    expect(ends).toBeGreaterThanOrEqual(5);
    expect(fn.coldStartsMs()).toHaveLength(1); // every invocation ended itself
  }, 40_000);
});
