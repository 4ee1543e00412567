import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventSource } from 'eventsource';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { publish } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';

// stream and publish, bundled as shipped, under aws-lambda-ric against a real redis-server (SOURCE=redis).
let taskRoot: string;
let redis: TestRedis;
let stream: LambdaFunction;
let publisher: LambdaFunction;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-redis-'));
  await bundleFunctions(taskRoot, ['stream', 'publish']);
  redis = await startRedis();
  const env = { AUTH_MODE: 'none', SOURCE: 'redis', REDIS_URL: redis.url, LOG_LEVEL: 'warn', RETRY_MS: '100', LAMBDA_DEADLINE_MARGIN_MS: '1500' };
  stream = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 5_000, maxConcurrency: 1 });
  publisher = await startLambdaFunction({ taskRoot, handler: 'functions/publish.handler', env, mode: 'buffered', maxConcurrency: 1 });
}, 30_000);

afterAll(async () => {
  await stream?.stop();
  await publisher?.stop();
  await redis?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

describe('Lambda path with SOURCE=redis', () => {
  it('delivers what the publish function appends, across 5 s invocations, with no gap and no duplicate', async () => {
    const received: { id: string; data: string }[] = [];
    const source = new EventSource(`${stream.url}/events?topic=news`);
    source.addEventListener('headline', (event) => received.push({ id: event.lastEventId, data: event.data }));
    let opens = 0;
    source.onopen = () => void (opens += 1);
    await waitFor(() => opens === 1, () => `the EventSource to open\n${stream.logs()}`, 5_000);
    const sent: string[] = [];
    // Twelve in one invocation (5 s timeout), twelve more once the client has resumed in the next one.
    for (const half of [0, 1]) {
      if (half === 1) await waitFor(() => opens === 2, 'the EventSource resuming in a new invocation', 10_000);
      for (let i = 0; i < 12; i += 1) {
        const data = JSON.stringify({ i: half * 12 + i });
        const answer = await publish(publisher.url, { topic: 'news', event: 'headline', data });
        expect(answer.status).toBe(202);
        sent.push(data);
      }
      await waitFor(() => received.length >= sent.length, `every event of half ${half + 1} received`, { timeoutMs: 10_000, everyMs: 100 }).catch(() => undefined);
    }
    source.close();
    expect(opens).toBeGreaterThanOrEqual(2);
    expect(received.map((r) => r.data)).toEqual(sent);
    expect(received[0]!.id).toMatch(/^news=\d+-\d+$/);
    expect(stream.coldStartsMs()).toHaveLength(1); // every invocation ended itself before the timeout
  }, 40_000);

  it('a quiet stream ended by the invocation deadline resumes exactly: what was published during the reconnect arrives', async () => {
    // Its own stream function with a long retry, so the publish below surely lands while the client is away.
    const env = { AUTH_MODE: 'none', SOURCE: 'redis', REDIS_URL: redis.url, LOG_LEVEL: 'warn', RETRY_MS: '2000', LAMBDA_DEADLINE_MARGIN_MS: '1500' };
    const quiet = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 4_000, maxConcurrency: 1 });
    try {
      await publish(publisher.url, { topic: 'quiet', data: 'before: not for this stream' });
      const received: string[] = [];
      const source = new EventSource(`${quiet.url}/events?topic=quiet`);
      source.addEventListener('message', (event) => received.push(event.data));
      await new Promise<void>((resolve) => (source.onopen = () => resolve()));
      // The invocation ends itself before its deadline, with no event sent; the client waits its retry (1–3 s).
      await new Promise<void>((resolve) => (source.onerror = () => resolve()));
      expect((await publish(publisher.url, { topic: 'quiet', data: 'published while away' })).status).toBe(202);
      await waitFor(() => received.length > 0, 'the event published while away', { timeoutMs: 10_000, everyMs: 100 }).catch(() => undefined);
      source.close();
      expect(received).toEqual(['published while away']);
    } finally {
      await quiet.stop();
    }
  }, 30_000);

  it('answers publish on the buffered URL as the container does', async () => {
    const bad = await fetch(`${publisher.url}/publish`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(bad.status).toBe(415);
    expect(await bad.json()).toMatchObject({ error: 'unsupported_media_type' });
    const events = await fetch(`${publisher.url}/events?topic=news`);
    expect(events.status).toBe(404);
  });
});
