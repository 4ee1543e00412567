import { mkdir, readFile, rm } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFunctions, REPO_ROOT } from './bundle-functions.js';
import { measureMemory } from './measure-memory.js';
import { startLambdaFunction, type LambdaFunction } from './run-function.js';
import { CONFIG_VARIABLES } from '../../../lib/config/index.js';

// `npm run dev:lambda` (scripts/dev-lambda.mjs bundles this file and runs it with plain node, no jest): the stream
// function, bundled as serverless.yml ships it, under aws-lambda-ric behind a local function URL.
// `npm run dev:lambda -- --measure` prints bundle sizes and cold-start times instead (docs/lambda.md);
// `npm run dev:lambda -- --memory` the stream function's peak memory with 0, 1,000 and 10,000 events (docs/benchmarks.md).

const TASK_ROOT = join(REPO_ROOT, '.esbuild', 'dev-lambda', 'task');
// The function's environment: first what serverless.yml gives every function whatever the parameters (QUEUE_ACK=client:
// Lambda refuses a queue source without it), with the dev server's own defaults; then each sse-relay variable set in
// this shell, except those only a container process reads; then the AWS SDK's credentials and endpoints, so a local SQS
// or SSM stand-in (or a real account) is reached as the function would reach it.
const TEMPLATE_ENV: Record<string, string> = { SOURCE: 'memory', DEMO: 'true', AUTH_MODE: 'none', QUEUE_ACK: 'client' };
const CONTAINER_ONLY = new Set(['PORT', 'HOST', 'METRICS_PORT', 'WORKERS']);
const AWS_SDK = /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|ENDPOINT_URL(_[A-Z_]+)?)$/;

/** The stream function's variables for `npm run dev:lambda`, from `shell` (process.env). */
function devFunctionEnv(shell: NodeJS.ProcessEnv): Record<string, string> {
  const env = { ...TEMPLATE_ENV };
  for (const [name, value] of Object.entries(shell)) {
    if (value === undefined) continue;
    if ((CONFIG_VARIABLES.includes(name) && !CONTAINER_ONLY.has(name)) || AWS_SDK.test(name)) env[name] = value;
  }
  return env;
}

async function serve(): Promise<void> {
  await bundleFunctions(TASK_ROOT, ['stream']);
  const env = devFunctionEnv(process.env);
  // The function's log lines go to this terminal as they come, as CloudWatch Logs would show them: a 500 says why here.
  const fn = await startLambdaFunction({
    taskRoot: TASK_ROOT, handler: 'functions/stream.handler', env, timeoutMs: 900_000, maxConcurrency: 8,
    region: process.env['AWS_REGION'] ?? 'us-east-1', echo: process.stderr,
  });
  console.log(`sse-relay (Lambda path, SOURCE=${env['SOURCE']}) at ${fn.url}`);
  console.log(`  open ${fn.url}/events?topic=demo in a browser, or: new EventSource('${fn.url}/events?topic=demo')`);
  console.log('  Ctrl-C stops it');
  const stop = (): void => void fn.stop().finally(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Bundle sizes, then cold starts: spawn → module loaded, and spawn → first byte of /events, over `runs` sandboxes. */
async function measure(runs: number): Promise<void> {
  await rm(TASK_ROOT, { recursive: true, force: true });
  const names = ['stream', 'publish', ...(existsSync(join(REPO_ROOT, 'functions', 'ingest.ts')) ? ['ingest'] : [])];
  const sizes = await bundleFunctions(TASK_ROOT, names);
  for (const [name, bytes] of Object.entries(sizes)) {
    const zipped = gzipSync(await readFile(join(TASK_ROOT, 'functions', `${name}.mjs`))).byteLength;
    console.log(`bundle ${name}.mjs: ${(bytes / 1024).toFixed(1)} KiB (${(zipped / 1024).toFixed(1)} KiB gzipped)`);
  }
  const baseline = await coldStarts(join(REPO_ROOT, 'test', 'fixtures', 'lambda'), 'handlers.streamThree', runs);
  console.log(`baseline, a 40-line handler: module loaded median ${median(baseline.loaded)} ms, first byte median ${median(baseline.firstByte)} ms`);
  const { loaded, firstByte } = await coldStarts(TASK_ROOT, 'functions/stream.handler', runs);
  console.log(`module loaded (spawn → first /next), ms: median ${median(loaded)}, all ${loaded.join(' ')}`);
  console.log(`first byte of /events (request → first body byte, cold), ms: median ${median(firstByte)}, all ${firstByte.join(' ')}`);
}

async function coldStarts(taskRoot: string, handler: string, runs: number): Promise<{ loaded: number[]; firstByte: number[] }> {
  const loaded: number[] = [];
  const firstByte: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const fn: LambdaFunction = await startLambdaFunction({ taskRoot, handler, env: { ...devFunctionEnv(process.env), DEMO: 'false' } });
    const at = Date.now();
    const response = await fetch(`${fn.url}/events?topic=demo`);
    const reader = response.body!.getReader();
    await reader.read();
    firstByte.push(Date.now() - at);
    loaded.push(fn.coldStartsMs()[0] ?? NaN);
    await reader.cancel();
    await fn.stop();
  }
  return { loaded, firstByte };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

await mkdir(TASK_ROOT, { recursive: true });
if (process.argv.includes('--measure')) await measure(Number(process.env['RUNS'] ?? 7));
else if (process.argv.includes('--memory')) {
  await bundleFunctions(TASK_ROOT, ['stream']);
  await measureMemory(TASK_ROOT, Number(process.env['RUNS'] ?? 3));
} else await serve();
