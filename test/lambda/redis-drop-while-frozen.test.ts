import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { publish } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { startTcpBlackhole, type TcpBlackhole } from '../support/tcp-blackhole.js';
import { waitFor } from '../support/wait-for.js';

// stream and publish (SOURCE=redis) reach Redis through a proxy that can forget its connections the way a NAT or a
// Lambda network interface forgets an idle flow: silently, while the sandboxes are frozen (SIGSTOP) between invocations.
let taskRoot: string;
let redis: TestRedis;
let proxy: TcpBlackhole;
let stream: LambdaFunction;
let publisher: LambdaFunction;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-drop-'));
  await bundleFunctions(taskRoot, ['stream', 'publish']);
  redis = await startRedis();
  proxy = await startTcpBlackhole(redis.port);
  const env = { AUTH_MODE: 'none', SOURCE: 'redis', REDIS_URL: `redis://127.0.0.1:${proxy.port}`, LOG_LEVEL: 'error', RETRY_MS: '100', LAMBDA_DEADLINE_MARGIN_MS: '4000' };
  stream = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 6_000, maxConcurrency: 1 });
  publisher = await startLambdaFunction({ taskRoot, handler: 'functions/publish.handler', env, mode: 'buffered', maxConcurrency: 1 });
}, 30_000);

afterAll(async () => {
  await stream?.stop();
  await publisher?.stop();
  await proxy?.close();
  await redis?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

/** Whether every runtime of `fn` is stopped (state T in /proc): frozen between invocations. */
function frozen(fn: LambdaFunction): boolean {
  const pids = fn.pids();
  return pids.length > 0 && pids.every(isFrozen);
}

function isFrozen(pid: number): boolean {
  return /^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** GET /events; the status and what the stream carried until it ended itself (its invocation's deadline). */
async function readStream(fn = stream, headers: Record<string, string> = { 'last-event-id': 'drop=0-0' }): Promise<{ status: number; text: string }> {
  const response = await fetch(`${fn.url}/events?topic=drop`, { headers });
  return { status: response.status, text: await response.text() };
}

/** Publishes `data` up to `attempts` times; the statuses answered. */
async function publishWithRetries(data: string, attempts: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < attempts && statuses.at(-1) !== 202; i += 1) statuses.push((await publish(publisher.url, { topic: 'drop', data })).status);
  return statuses;
}

describe('Lambda + Redis: connections lost while the sandbox is frozen', () => {
  it('a silently dropped connection costs one publish 503 (a command timeout) and no stream, not every request until TCP gives up', async () => {
    expect(await publishWithRetries('before', 1)).toEqual([202]);
    expect((await readStream()).status).toBe(200);
    await waitFor(() => frozen(stream) && frozen(publisher), 'both sandboxes frozen', 5_000);
    proxy.drop();
    // Before the fix: 503 after every 2 s command timeout, indefinitely (the connection was never replaced).
    expect(await publishWithRetries('after the drop', 3)).toEqual([503, 202]);
    const reads: { status: number; text: string }[] = [];
    for (let i = 0; i < 3 && reads.at(-1)?.status !== 200; i += 1) reads.push(await readStream());
    // Reads are retried once on the new connection: the browser's EventSource (which gives up on a 503) gets its stream.
    expect(reads.map((r) => r.status)).toEqual([200]);
    expect(reads.at(-1)?.text).toMatch(/data: before\n\n[^]*data: after the drop\n\n/);
  }, 30_000);

  it('a connection Redis closed (CLIENT KILL) while frozen costs at most the first publish after the thaw, and no stream', async () => {
    await waitFor(() => frozen(publisher), 'the publish sandbox frozen', 5_000);
    execFileSync('redis-cli', ['-p', String(redis.port), 'CLIENT', 'KILL', 'TYPE', 'normal']);
    // Before the fix: every request answered 503 until ioredis's retry timer (100 ms) ran, which it never did while
    // requests kept the sandbox busy for only milliseconds between freezes.
    const statuses = await publishWithRetries('after the kill', 3);
    expect(statuses.at(-1)).toBe(202);
    expect(statuses.length).toBeLessThanOrEqual(2);
    await waitFor(() => frozen(stream), 'the stream sandbox frozen', 5_000);
    execFileSync('redis-cli', ['-p', String(redis.port), 'CLIENT', 'KILL', 'TYPE', 'normal']);
    const read = await readStream();
    expect(`${read.status} ${read.text}`).toMatch(/^200 [^]*data: after the kill\n/);
  }, 20_000);

  it('SOURCE=redis-list: a queue stream recovers from a silently dropped connection with no 503', async () => {
    const env = {
      AUTH_MODE: 'none', SOURCE: 'redis-list', REDIS_URL: `redis://127.0.0.1:${proxy.port}`, LOG_LEVEL: 'error', RETRY_MS: '100',
      LAMBDA_DEADLINE_MARGIN_MS: '1500', QUEUE_ACK: 'client', REDIS_BLOCK_MS: '500',
    };
    const list = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 3_000, maxConcurrency: 1 });
    const listPublisher = await startLambdaFunction({ taskRoot, handler: 'functions/publish.handler', env: { ...env, REDIS_URL: redis.url }, mode: 'buffered', maxConcurrency: 1 });
    try {
      expect((await readStream(list, {})).status).toBe(200);
      await waitFor(() => frozen(list), 'the stream sandbox frozen', 5_000);
      proxy.drop();
      expect((await publish(listPublisher.url, { topic: 'drop', data: 'queued after the drop' })).status).toBe(202);
      // Before the fix: 503 on every open (the command connection's PING timed out, and it was never replaced). The
      // first stream may end empty (its blocking read finds the dead connection at its deadline); the next delivers.
      const reads: { status: number; text: string }[] = [];
      for (let i = 0; i < 3 && !(reads.at(-1)?.text ?? '').includes('data:'); i += 1) reads.push(await readStream(list, {}));
      expect(reads.map((r) => r.status)).not.toContain(503);
      expect(reads.at(-1)?.text).toContain('data: queued after the drop\n');
    } finally {
      await list.stop();
      await listPublisher.stop();
    }
  }, 30_000);
  it('SOURCE=redis-list: POST /ack on a sandbox thawed after a Redis restart removes the item, with no 503', async () => {
    // Its own redis-server, killed and restarted. One sandbox holds the stream; the other answers every POST /ack and
    // is frozen in between, so it learns of the restart only from the acknowledgement's command.
    const own = await startRedis();
    const raw = new Redis(own.url);
    const env = { AUTH_MODE: 'none', SOURCE: 'redis-list', REDIS_URL: own.url, LOG_LEVEL: 'error', QUEUE_ACK: 'client', QUEUE_PREFETCH: '1', REDIS_BLOCK_MS: '500' };
    const list = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 20_000, maxConcurrency: 2 });
    const reader = new SseReader(`${list.url}/events?topic=acked`);
    const acknowledge = (id: string): Promise<Response> => fetch(`${list.url}/ack`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'acked', ids: [id] }),
    });
    const held = async (): Promise<number> => {
      let items = 0;
      for (const key of await raw.keys('*acked*')) if ((await raw.type(key)) === 'list') items += await raw.llen(key);
      return items;
    };
    try {
      await raw.lpush('sse:q:acked', JSON.stringify({ data: 'first' }));
      await reader.until((r) => r.events.length === 1, 10_000);
      expect((await acknowledge(reader.ids[0]!)).status).toBe(200);
      // Which of the socket's close and the command comes first after the thaw varies: three rounds, each must hold.
      const answers: string[] = [];
      for (let round = 1; round <= 3; round += 1) {
        await waitFor(() => list.pids().length === 2 && list.pids().some(isFrozen), 'the sandbox that answered the acknowledgement frozen', 5_000);
        own.kill('SIGKILL');
        await own.restart();
        await raw.lpush('sse:q:acked', JSON.stringify({ data: `after restart ${round}` }));
        await reader.until((r) => r.events.length === round + 1, 10_000);
        // Before the fix: 503 source_unavailable at once (the dead connection), and the item stayed in the processing list.
        const answer = await acknowledge(reader.ids[round]!);
        answers.push(`${answer.status} ${await answer.text()}`);
        // An item left unacknowledged fills the stream's prefetch window of one: nothing more would come.
        if (answer.status !== 200) break;
      }
      expect(answers).toEqual(Array(3).fill('200 {"acked":1}'));
      expect(await held()).toBe(0);
    } finally {
      reader.close();
      raw.disconnect();
      await list.stop();
      await own.stop();
    }
  }, 30_000);
});
