import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/lambda/bundle-functions.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

// `npm run dev:lambda` as docs/lambda.md tells a newcomer to run it: "set SOURCE, REDIS_URL, … in the shell to use
// another source". With SOURCE=redis-list every request answered 500 and the terminal said nothing: the dev server
// passed on a fixed list of prefixes that left out QUEUE_ACK (which Lambda requires to be `client` for a queue source,
// and which serverless.yml sets for every function), and it kept the function's log lines to itself.
let redis: TestRedis;
let raw: Redis;
let dev: ChildProcessWithoutNullStreams;
let stdout = '';
let stderr = '';

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  // A shell with only what the docs name: no QUEUE_ACK, as a newcomer would not know to set it.
  const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', SOURCE: 'redis-list', REDIS_URL: redis.url, RETRY_MS: '100' };
  dev = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'dev-lambda.mjs')], { cwd: REPO_ROOT, env, stdio: 'pipe' });
  dev.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  dev.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await waitFor(() => /at http:\/\/127\.0\.0\.1:\d+/.test(stdout), () => `dev:lambda printed no URL; stdout: ${stdout} stderr: ${stderr}`, 60_000);
}, 70_000);

afterAll(async () => {
  if (dev !== undefined && dev.exitCode === null) {
    const exited = new Promise((resolve) => dev.once('exit', resolve));
    dev.kill('SIGTERM');
    await exited;
  }
  raw?.disconnect();
  await redis?.stop();
});

it('serves a queue source from the shell\'s SOURCE and REDIS_URL, and shows the function\'s log lines', async () => {
  const url = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1] ?? '';
  await raw.lpush('sse:q:jobs', JSON.stringify({ data: 'job 1' }));
  const controller = new AbortController();
  const response = await fetch(`${url}/events?topic=jobs`, { signal: controller.signal });
  const body = response.status === 200 ? '' : await response.text();
  expect({ status: response.status, body }).toEqual({ status: 200, body: '' });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!text.includes('data: job 1')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  controller.abort();
  expect(text).toContain('data: job 1');
  // The stream function's own log line (with its awsRequestId), in the terminal that runs the dev server.
  await waitFor(() => /"awsRequestId":"[^"]+"[^\n]*"msg":"stream opened"/.test(stderr), () => `no function log line in the dev server's output: ${stderr}`, 5_000);
}, 30_000);
