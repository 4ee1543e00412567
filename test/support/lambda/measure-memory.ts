import { Redis } from 'ioredis';
import { readFile } from 'node:fs/promises';
import { startRedis } from '../redis-server.js';
import { SseReader } from '../sse-reader.js';
import { startLambdaFunction } from './run-function.js';

// `npm run dev:lambda -- --memory`: the stream function's memory under aws-lambda-ric with 0, 1,000 and 10,000 events
// through one invocation (SOURCE=redis, a local redis-server), read from the runtime process's /proc status: VmHWM is
// its peak resident set, what Lambda reports as "Max Memory Used".

const PAYLOAD = JSON.stringify({ kind: 'order.updated', id: 'o-0000000', status: 'shipped', note: 'x'.repeat(120) });

interface MemoryFigures { events: number; peakMiB: number; rssMiB: number; ms: number }

async function procStatus(pid: number): Promise<{ peakMiB: number; rssMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakMiB: Math.round(kib('VmHWM') / 102.4) / 10, rssMiB: Math.round(kib('VmRSS') / 102.4) / 10 };
}

async function oneInvocation(taskRoot: string, redisUrl: string, events: number): Promise<MemoryFigures> {
  const env = { SOURCE: 'redis', REDIS_URL: redisUrl, AUTH_MODE: 'none', LOG_LEVEL: 'warn', REPLAY_MAX: '100000' };
  const fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env, timeoutMs: 300_000, maxConcurrency: 1 });
  const client = new Redis(redisUrl);
  const topic = `memory-${events}-${Date.now()}`;
  try {
    const started = Date.now();
    const reader = new SseReader(`${fn.url}/events?topic=${topic}`);
    await reader.until((r) => r.retries.length > 0, 30_000);
    // Published while the one invocation streams: every event goes through the live path of the same sandbox.
    for (let sent = 0; sent < events; sent += 500) {
      const batch = client.pipeline();
      for (let i = sent; i < Math.min(events, sent + 500); i += 1) batch.xadd(`sse:${topic}`, '*', 'event', 'record', 'data', PAYLOAD);
      await batch.exec();
    }
    await reader.until((r) => r.events.length >= events, 120_000);
    if (events === 0) await new Promise((resolve) => setTimeout(resolve, 2_000));
    const pid = fn.pids()[0];
    if (pid === undefined) throw new Error(`the sandbox is gone:\n${fn.logs()}`);
    return { events, ...(await procStatus(pid)), ms: Date.now() - started };
  } finally {
    client.disconnect();
    await fn.stop();
  }
}

/** Prints one line per event count, `runs` fresh sandboxes each. */
export async function measureMemory(taskRoot: string, runs: number): Promise<void> {
  const redis = await startRedis();
  try {
    for (const events of [0, 1_000, 10_000]) {
      const figures: MemoryFigures[] = [];
      for (let i = 0; i < runs; i += 1) figures.push(await oneInvocation(taskRoot, redis.url, events));
      const peaks = figures.map((f) => f.peakMiB).sort((a, b) => a - b);
      console.log(`${events} events through one invocation: peak RSS (VmHWM) MiB ${peaks.join(' ')}, RSS at the end ${figures.map((f) => f.rssMiB).join(' ')}, ${figures.map((f) => f.ms).join(' ')} ms`);
    }
  } finally {
    await redis.stop();
  }
}
