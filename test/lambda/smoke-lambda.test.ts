import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleFunctions, REPO_ROOT } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

// `npm run smoke:lambda` against the local function-URL harness: stream and publish bundled as shipped, under
// aws-lambda-ric, SOURCE=redis; once with a URL that forwards every write, once with one that holds writes under 2 KiB
// (as aws-lambda-nodejs-runtime-interface-client#94/#102 report), and once more with the padding the tool recommends.
const HOLD = 2_048;
/** A hold that takes six probes to find: more events than a queue stream sends unacknowledged (QUEUE_PREFETCH). */
const QUEUE_HOLD = 20_000;
const run = promisify(execFile);
let taskRoot: string;
let redis: TestRedis;
let publisher: LambdaFunction;
let env: Record<string, string>;
const started: LambdaFunction[] = [];

interface SmokeResult { topic: string; acknowledgementsFailed: number; held: boolean; heartbeatsHeld: boolean; paddingBytes: number | null; latenciesMs: (number | null)[]; heartbeatGapsMs: number[] }

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-smoke-'));
  await bundleFunctions(taskRoot, ['stream', 'publish']);
  redis = await startRedis();
  env = { AUTH_MODE: 'none', SOURCE: 'redis', REDIS_URL: redis.url, LOG_LEVEL: 'warn', HEARTBEAT_MS: '300', PUBLISH_RATE_PER_MINUTE: '0' };
  publisher = await startLambdaFunction({ taskRoot, handler: 'functions/publish.handler', env, mode: 'buffered', maxConcurrency: 2 });
}, 30_000);

afterAll(async () => {
  await Promise.all([publisher, ...started].map((fn) => fn?.stop()));
  await redis?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

interface SmokeOptions { env?: Record<string, string>; publisher?: LambdaFunction; args?: string[]; concurrency?: number }

async function smoke(holdBelowBytes: number, options: SmokeOptions = {}): Promise<{ result: SmokeResult; stdout: string }> {
  const via = options.publisher ?? publisher;
  const args = options.args ?? [];
  const stream = await startLambdaFunction({
    taskRoot, handler: 'functions/stream.handler', env: { ...env, ...options.env }, timeoutMs: 60_000, holdBelowBytes, maxConcurrency: options.concurrency ?? 1,
  });
  started.push(stream);
  const { stdout } = await run(process.execPath, [join(REPO_ROOT, 'scripts', 'smoke-lambda.mjs'), stream.url, via.url, '--heartbeat-wait-ms', '1200', '--prompt-ms', '2000', '--json', ...args], {
    timeout: 60_000, env: { PATH: process.env['PATH'] ?? '' },
  });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return { result: JSON.parse(last) as SmokeResult, stdout };
}

describe('npm run smoke:lambda', () => {
  it('finds nothing held on a URL that forwards every write, and sees heartbeats arrive', async () => {
    const { result, stdout } = await smoke(0);
    expect(result).toMatchObject({ held: false, heartbeatsHeld: false, paddingBytes: 0 });
    expect(result.latenciesMs.every((ms) => ms !== null && ms <= 2000)).toBe(true);
    expect(result.heartbeatGapsMs.length).toBeGreaterThan(0);
    expect(stdout).toContain('FLUSH_PADDING_BYTES=0 (the default) is fine');
  }, 60_000);

  it('finds small writes and heartbeats held on a URL that holds writes under 2 KiB, and recommends a padding above it', async () => {
    const { result, stdout } = await smoke(HOLD);
    expect(result).toMatchObject({ held: true, heartbeatsHeld: true });
    expect(result.paddingBytes).toBeGreaterThanOrEqual(HOLD);
    expect(result.paddingBytes).toBeLessThanOrEqual(2 * HOLD);
    expect(stdout).toContain(`set FLUSH_PADDING_BYTES=${result.paddingBytes}`);
    // The recommendation works: with that padding the same URL no longer holds anything back.
    const fixed = await smoke(HOLD, { env: { FLUSH_PADDING_BYTES: String(result.paddingBytes) } });
    expect(fixed.result).toMatchObject({ held: false, heartbeatsHeld: false, paddingBytes: 0 });
  }, 90_000);

  // A queue-mode stack (QUEUE_ACK=client, as serverless.yml sets it): a stream sends at most QUEUE_PREFETCH (10) events
  // its client has not acknowledged. The tool did not acknowledge, so once the warm-up, the small events and the first
  // probes had filled that window nothing more came: on a URL holding writes under 20,000 bytes it said that no padding
  // could help, where 32 KiB goes through.
  it('on a queue source it acknowledges what it reads, so the probes keep coming and the advice is right (topic from --topic)', async () => {
    const queueEnv = { ...env, SOURCE: 'redis-list', QUEUE_ACK: 'client' };
    // Publishes and acknowledgements share the publish function, which serverless.yml does not reserve (the account's pool).
    const queuePublisher = await startLambdaFunction({ taskRoot, handler: 'functions/publish.handler', env: queueEnv, mode: 'buffered', maxConcurrency: 8 });
    started.push(queuePublisher);
    // Each POST /ack is an invocation of the publish function, so the stream function needs no execution beyond the
    // stream's own (with one execution, acknowledgements sent to it were answered 429).
    const { result, stdout } = await smoke(QUEUE_HOLD, { env: queueEnv, publisher: queuePublisher, args: ['--topic', 'smoke-queue'], concurrency: 1 });
    expect(result).toMatchObject({ held: true, topic: 'smoke-queue', acknowledgementsFailed: 0 });
    expect(result.paddingBytes).toBeGreaterThanOrEqual(QUEUE_HOLD);
    expect(result.paddingBytes).toBeLessThanOrEqual(2 * QUEUE_HOLD);
    expect(stdout).toContain(`set FLUSH_PADDING_BYTES=${result.paddingBytes}`);
  }, 120_000);
});
