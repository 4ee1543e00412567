// `node bench/engine-work-per-frame.mjs [--subscribers=5000] [--rate=100] [--seconds=10] [--runs=1] [--source=memory]`
// (after `npm run build`): the engine's work per delivered frame on one pinned core. The relay server is pinned to
// CPU 0 (`taskset -a -p`, every thread); run this script itself under `taskset -c 1` so the one load process and the
// publisher stay on the other CPU. Server CPU (utime + stime from /proc) over the phase ÷ frames delivered is robust to
// a busy machine; latency is not, so p99 is printed with the load average beside it. See docs/benchmarks.md
// ("Engine: work per frame").
/* global process, console, setTimeout, URL */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ClientPool } from './client-pool.mjs';
import { publishAtRate } from './publisher.mjs';
import { processStats, startRedis, startRelay } from './servers.mjs';

const option = (name, fallback) => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : arg.slice(name.length + 3);
};
const SUBSCRIBERS = Number(option('subscribers', '5000'));
const RATE = Number(option('rate', '100'));
const SECONDS = Number(option('seconds', '10'));
const RUNS = Number(option('runs', '1'));
const SOURCE = option('source', 'memory');
const DRAIN_MS = 10_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function pin(pid, cpu) {
  try {
    execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function awaitDelivery(pool, expected) {
  const deadline = Date.now() + DRAIN_MS;
  let stats = await pool.stats();
  while (stats.frames < expected && Date.now() < deadline) {
    await sleep(100);
    stats = await pool.stats();
  }
  return stats;
}

async function onePhase(server, pool) {
  await pool.reset();
  const before = processStats(server.pid);
  const published = await publishAtRate({ port: server.port, topic: 'bench', rate: RATE, seconds: SECONDS });
  const expected = published.accepted * pool.subscribers;
  const stats = await awaitDelivery(pool, expected);
  const after = processStats(server.pid);
  const cpuSeconds = after.cpuSeconds - before.cpuSeconds;
  return {
    expected, delivered: stats.frames, lost: Math.max(0, expected - stats.frames), cuts: stats.cuts,
    serverCpuSeconds: round(cpuSeconds), usPerFrame: round((cpuSeconds * 1e6) / Math.max(1, stats.frames)),
    p50: round(stats.histogram.quantile(0.5)), p99: round(stats.histogram.quantile(0.99)), loadCpuSeconds: round(stats.cpuSeconds),
    loadAverage: loadavg()[0].toFixed(1),
  };
}

async function main() {
  if (!existsSync(new URL('../dist/functions/server.js', import.meta.url))) throw new Error('dist/ is missing: run `npm run build` first');
  const redis = SOURCE === 'redis' ? await startRedis() : undefined;
  const server = await startRelay({ source: SOURCE, redisUrl: redis?.url });
  const pool = new ClientPool(1);
  try {
    const pinned = pin(server.pid, 0);
    console.log(`server pid ${server.pid} ${pinned ? 'pinned to CPU 0' : 'NOT pinned (taskset missing?)'}; ${SUBSCRIBERS} subscribers × ${RATE}/s for ${SECONDS} s, ${SOURCE}`);
    const connected = await pool.grow(SUBSCRIBERS, { host: '127.0.0.1', port: server.port, path: '/events?topic=bench' });
    if (connected.failed > 0) console.log(`${connected.failed} subscribers failed to connect`);
    await sleep(500);
    for (let run = 1; run <= RUNS; run++) console.log(JSON.stringify({ run, subscribers: pool.subscribers, rate: RATE, ...(await onePhase(server, pool)) }));
  } finally {
    await pool.closeAll().catch(() => undefined);
    await pool.exit();
    await server.stop();
    await redis?.stop();
  }
}

function round(value) {
  return Math.round(value * 100) / 100;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
