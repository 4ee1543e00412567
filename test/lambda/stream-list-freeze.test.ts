import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

// SOURCE=redis-list under a Runtime API that freezes the sandbox (SIGSTOP) while it waits for its next event, as Lambda
// does. An item the stream gave back, or one pushed as it ended, must be in the queue, not in the processing list of a
// frozen sandbox that nobody else may take it from while that sandbox's heartbeat lives.
let taskRoot: string;
let redis: TestRedis;
let raw: Redis;
let fn: LambdaFunction;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-list-freeze-'));
  await bundleFunctions(taskRoot, ['stream']);
  redis = await startRedis();
  raw = new Redis(redis.url);
  const env = {
    AUTH_MODE: 'none', LOG_LEVEL: 'warn', RETRY_MS: '100', SOURCE: 'redis-list', REDIS_URL: redis.url, REDIS_BLOCK_MS: '1000',
    // No acknowledgement for 1.5 s ends the stream (the idle budget under QUEUE_ACK=client), holding one item.
    QUEUE_ACK: 'client', QUEUE_PREFETCH: '1', SESSION_IDLE_MS: '1500',
  };
  fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 20_000, maxConcurrency: 2 });
}, 30_000);

afterAll(async () => {
  await fn?.stop();
  raw?.disconnect();
  await redis?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

/** Items in the queue itself, and in every consumer's processing list. */
async function counts(): Promise<{ queued: number; processing: number }> {
  const queued = await raw.llen('sse:q:jobs');
  let processing = 0;
  for (const key of await raw.keys('sse:q:jobs#processing:*')) processing += await raw.llen(key);
  return { queued, processing };
}

async function backInQueue(what: string): Promise<void> {
  let last = { queued: -1, processing: -1 };
  await waitFor(async () => {
    last = await counts();
    return last.queued === 1 && last.processing === 0;
  }, () => `${what} (${JSON.stringify(last)})`, 5_000);
}

it('an item held unacknowledged when the invocation ends is back in the queue before the sandbox freezes', async () => {
  for (let round = 0; round < 3; round += 1) {
    await raw.lpush('sse:q:jobs', JSON.stringify({ data: `job ${round}` }));
    const text = await (await fetch(`${fn.url}/events?topic=jobs`)).text();
    expect(text).toContain(`data: job ${round}`);
    await backInQueue(`round ${round}: the unacknowledged item back in the queue`);
    await raw.del('sse:q:jobs');
  }
}, 60_000);

it('an item pushed as an idle stream ends is not taken into the frozen sandbox by the stream\'s last BLMOVE', async () => {
  for (let round = 0; round < 3; round += 1) {
    const text = await (await fetch(`${fn.url}/events?topic=jobs`)).text();
    expect(text).not.toContain('data:');
    await raw.lpush('sse:q:jobs', JSON.stringify({ data: `late ${round}` }));
    await backInQueue(`round ${round}: the late item in the queue`);
    await raw.del('sse:q:jobs');
  }
}, 60_000);
