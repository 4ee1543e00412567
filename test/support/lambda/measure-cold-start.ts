import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startLocalSqs, type LocalSqs } from '../../sqs/fauxqs.js';
import { startRedis, type TestRedis } from '../redis-server.js';
import { bundleEntryParts, bundleFunctions, REPO_ROOT, serverlessEsbuildOptions } from './bundle-functions.js';
import { startLambdaFunction } from './run-function.js';

// `node scripts/cold-start.mjs` (and `npm run bench -- --cold-start`): cold starts of the stream function, bundled as
// serverless.yml ships it, under aws-lambda-ric, beside an empty handler, for SOURCE=memory, redis and sqs (a local
// redis-server and the SQS emulator). Runs are interleaved (each round starts every variant once, in a rotating order),
// so a machine whose load changes during the measurement affects every variant alike; the ratio to the empty handler
// is taken per round, then its median. Issue #17, point 4: first byte within 1.5× the empty handler's.

/** One way of starting the function: where its code is, which handler, which environment. */
interface Variant {
  label: string;
  taskRoot: string;
  handler: string;
  env: Record<string, string>;
}

interface Sample { loadedMs: number; firstByteMs: number; cpuMs: number }

// Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux).
const USER_HZ = 100;

/**
 * CPU time the runtime process has used so far, ms: the sum over its threads (V8's compiler and GC helpers included)
 * of /proc/<pid>/task/<tid>/schedstat's first field, in ns; where the kernel keeps no schedstat, utime + stime of
 * /proc/<pid>/stat at 10 ms resolution. Load-independent, unlike wall time.
 */
async function cpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const threads = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const ns = (await Promise.all(threads.map((tid) => readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '0'))))
    .reduce((sum, text) => sum + Number(text.split(' ')[0]), 0);
  if (ns > 0) return ns / 1e6;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

/** spawn → module loaded (the runtime's first /next), and request → first body byte of a cold `GET /events`. */
async function coldStart(variant: Variant): Promise<Sample> {
  const fn = await startLambdaFunction({ taskRoot: variant.taskRoot, handler: variant.handler, env: variant.env, maxConcurrency: 1 });
  try {
    const at = performance.now();
    const response = await fetch(`${fn.url}/events?topic=cold`);
    const reader = response.body!.getReader();
    const first = await reader.read();
    const firstByteMs = performance.now() - at;
    const cpu = await cpuMs(fn.pids()[0]);
    if (response.status !== 200 || first.done === true) throw new Error(`${variant.label}: /events answered ${response.status}; logs:\n${fn.logs()}`);
    await reader.cancel();
    return { loadedMs: fn.coldStartsMs()[0] ?? NaN, firstByteMs, cpuMs: cpu };
  } finally {
    await fn.stop();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : ((sorted[mid - 1]! + sorted[mid]!) / 2);
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

/** Bundle sizes per function: entry file, loaded at cold start (entry + static chunks), reachable (every lazy chunk). */
async function printBundles(taskRoot: string): Promise<void> {
  const { handlers } = await serverlessEsbuildOptions();
  console.log('bundle (serverless.yml options) | entry file | loaded at cold start | gzipped entry | everything reachable');
  for (const [name, handler] of Object.entries(handlers)) {
    const entry = `${handler.slice(0, handler.lastIndexOf('.'))}.ts`;
    const parts = await bundleEntryParts(entry, taskRoot);
    const gz = gzipSync(await readFile(join(taskRoot, entry.replace(/\.ts$/, '.mjs')))).byteLength;
    console.log(`  ${name.padEnd(8)} | ${kib(parts.entryBytes)} | ${kib(parts.initialBytes)} | ${kib(gz)} | ${kib(parts.reachableBytes)} (${parts.chunks.filter((c) => c.endsWith('.mjs')).length} chunks)`);
  }
}

/** An earlier checkout's stream function (e.g. `git archive main`), bundled with its own serverless.yml options, as a variant. */
async function beforeVariant(checkout: string, env: Record<string, string>): Promise<Variant> {
  const taskRoot = join(REPO_ROOT, '.esbuild', 'cold-start', 'before');
  await rm(taskRoot, { recursive: true, force: true });
  const parts = await bundleEntryParts('functions/stream.ts', taskRoot, checkout);
  // With the NODE_OPTIONS of that checkout's serverless.yml, as it would have run.
  const { nodeOptions } = await serverlessEsbuildOptions(checkout);
  const own: Record<string, string> = { ...env };
  delete own['NODE_OPTIONS'];
  if (nodeOptions !== undefined) own['NODE_OPTIONS'] = nodeOptions;
  console.log(`before (${checkout}): stream entry ${kib(parts.entryBytes)}, loaded at cold start ${kib(parts.initialBytes)}`);
  return { label: 'stream, memory (before)', taskRoot, handler: 'functions/stream.handler', env: own };
}

interface Services { redis: TestRedis; sqs: LocalSqs; queueUrl: string }

async function variants(taskRoot: string, services: Services, before: string | undefined): Promise<Variant[]> {
  const base = { AUTH_MODE: 'none', LOG_LEVEL: 'warn', DEMO: 'false' };
  // The function runs with serverless.yml's NODE_OPTIONS (--enable-source-maps: Node reads each chunk's map as it loads
  // it), so it is measured with them; the empty handler has no maps to read.
  const { nodeOptions } = await serverlessEsbuildOptions();
  const stream = { taskRoot, handler: 'functions/stream.handler' };
  const withNodeOptions = (env: Record<string, string>): Record<string, string> => (nodeOptions === undefined ? env : { ...env, NODE_OPTIONS: nodeOptions });
  const list: Variant[] = [
    { label: 'empty handler', taskRoot: join(REPO_ROOT, 'test', 'fixtures', 'lambda'), handler: 'handlers.streamThree', env: base },
    { label: 'stream, memory', ...stream, env: withNodeOptions({ ...base, SOURCE: 'memory' }) },
    { label: 'stream, redis', ...stream, env: withNodeOptions({ ...base, SOURCE: 'redis', REDIS_URL: services.redis.url }) },
    {
      label: 'stream, sqs', ...stream,
      env: withNodeOptions(services.sqs.env(services.queueUrl, { ...base, QUEUE_ACK: 'client', SQS_WAIT_SECONDS: '1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' })),
    },
  ];
  if (before !== undefined) list.push(await beforeVariant(before, withNodeOptions({ ...base, SOURCE: 'memory' })));
  return list;
}

/** Prints bundle sizes, then `runs` interleaved rounds of cold starts and their medians. */
export async function measureColdStarts(runs: number, before?: string): Promise<void> {
  const taskRoot = join(REPO_ROOT, '.esbuild', 'cold-start', 'task');
  await rm(taskRoot, { recursive: true, force: true });
  await bundleFunctions(taskRoot, ['stream']);
  await printBundles(taskRoot);
  const redis = await startRedis();
  const sqs = await startLocalSqs();
  try {
    const list = await variants(taskRoot, { redis, sqs, queueUrl: sqs.createQueue('cold') }, before);
    const samples = new Map<string, Sample[]>(list.map((v) => [v.label, []]));
    for (let round = 0; round < runs; round += 1) {
      for (let i = 0; i < list.length; i += 1) {
        const variant = list[(i + round) % list.length]!;
        samples.get(variant.label)!.push(await coldStart(variant));
      }
    }
    report(list.map((v) => v.label), samples);
  } finally {
    await sqs.stop();
    await redis.stop();
  }
}

function report(labels: readonly string[], samples: Map<string, Sample[]>): void {
  const empty = samples.get(labels[0]!)!;
  console.log(`cold starts under aws-lambda-ric, ${empty.length} interleaved rounds, median (ms); ratio = median over rounds of first byte ÷ the empty handler's first byte in the same round`);
  console.log('variant                  | module loaded | first byte of /events | ratio to empty | CPU until first byte | CPU ÷ empty | all first bytes');
  for (const label of labels) {
    const runs = samples.get(label)!;
    const ratio = median(runs.map((s, i) => s.firstByteMs / empty[i]!.firstByteMs));
    const loaded = median(runs.map((s) => s.loadedMs));
    const first = median(runs.map((s) => s.firstByteMs));
    const cpu = median(runs.map((s) => s.cpuMs));
    // CPU time moves far less with the host's load than wall time does: the bundle's own cost, round by round.
    const cpuRatio = median(runs.map((s, i) => s.cpuMs / empty[i]!.cpuMs));
    const all = runs.map((s) => Math.round(s.firstByteMs)).join(' ');
    console.log(`${label.padEnd(24)} | ${loaded.toFixed(0).padStart(13)} | ${first.toFixed(0).padStart(21)} | ${ratio.toFixed(2).padStart(14)} | ${cpu.toFixed(1).padStart(20)} | ${cpuRatio.toFixed(2).padStart(11)} | ${all}`);
  }
}
