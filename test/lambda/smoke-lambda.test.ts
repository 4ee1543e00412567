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
const run = promisify(execFile);
let taskRoot: string;
let redis: TestRedis;
let publisher: LambdaFunction;
let env: Record<string, string>;
const started: LambdaFunction[] = [];

interface SmokeResult { held: boolean; heartbeatsHeld: boolean; paddingBytes: number | null; latenciesMs: (number | null)[]; heartbeatGapsMs: number[] }

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

async function smoke(holdBelowBytes: number, extraEnv: Record<string, string> = {}): Promise<{ result: SmokeResult; stdout: string }> {
  const stream = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env: { ...env, ...extraEnv }, timeoutMs: 60_000, holdBelowBytes, maxConcurrency: 1 });
  started.push(stream);
  const { stdout } = await run(process.execPath, [join(REPO_ROOT, 'scripts', 'smoke-lambda.mjs'), stream.url, publisher.url, '--heartbeat-wait-ms', '1200', '--prompt-ms', '2000', '--json'], {
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
    const fixed = await smoke(HOLD, { FLUSH_PADDING_BYTES: String(result.paddingBytes) });
    expect(fixed.result).toMatchObject({ held: false, heartbeatsHeld: false, paddingBytes: 0 });
  }, 90_000);
});
