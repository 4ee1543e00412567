// `npm run bench -- --workers` (issue #17, point 5): Redis mode, 10,000 subscribers × 100 msg/s, served by one process
// (WORKERS=1) and by a primary with two workers (WORKERS=2), back to back in one sitting, each run `--rounds` times
// (default 2) alternating, so a change in the machine's load affects both alike. Reports delivery, latency and the CPU
// time of the whole server (primary and workers, from /proc) per delivered frame. On this shared 2-core machine the
// load processes and Redis compete with the workers for the same two cores: read the figures as a comparison, not
// as what two dedicated cores would give.
/* global process, console, setTimeout */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ClientPool } from './client-pool.mjs';
import { publishAtRate } from './publisher.mjs';
import { processStats, startRedis, startRelay } from './servers.mjs';

const SUBSCRIBERS = 10_000;
const RATE = 100;
const SECONDS = 8;
const DRAIN_MS = 8_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The process and its direct children (the workers of a cluster primary). */
function tree(pid) {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return [pid, ...children];
}

/** CPU seconds (user + system) of the server: every process of its tree. */
function serverCpu(pid) {
  return tree(pid).reduce((sum, p) => sum + processStats(p).cpuSeconds, 0);
}

async function startServer(redisUrl, workers) {
  const env = { WORKERS: String(workers), SHUTDOWN_DRAIN_MS: '0', ...(workers > 1 ? { METRICS_PORT: '0' } : {}) };
  const server = await startRelay({ source: 'redis', redisUrl, env });
  // /readyz answered once one worker listens; wait for the others, then let them settle.
  const deadline = Date.now() + 30_000;
  while (tree(server.pid).length < workers + (workers > 1 ? 1 : 0) && Date.now() < deadline) await sleep(100);
  if (workers > 1) await sleep(3_000);
  return server;
}

async function oneRun(redisUrl, workers) {
  const server = await startServer(redisUrl, workers);
  const pool = new ClientPool(2);
  try {
    const target = { host: '127.0.0.1', port: server.port, path: '/events?topic=workers', gzip: false };
    const connected = await pool.grow(SUBSCRIBERS, target);
    await sleep(1_000);
    await pool.reset();
    const cpuBefore = serverCpu(server.pid);
    const published = await publishAtRate({ port: server.port, topic: 'workers', rate: RATE, seconds: SECONDS });
    const expected = published.accepted * pool.subscribers;
    const deadline = Date.now() + DRAIN_MS;
    let stats = await pool.stats();
    while (stats.frames < expected && Date.now() < deadline) {
      await sleep(100);
      stats = await pool.stats();
    }
    const cpu = serverCpu(server.pid) - cpuBefore;
    return {
      workers, subscribers: pool.subscribers, connectFailures: connected.failed, expected, delivered: stats.frames,
      // A publish whose answer came after the publisher's timeout is not counted as accepted, but is delivered.
      published: published.accepted, unanswered: published.sent - published.accepted,
      lost: Math.max(0, expected - stats.frames), cuts: stats.cuts, p50: Math.round(stats.histogram.quantile(0.5)),
      p99: Math.round(stats.histogram.quantile(0.99)), max: Math.round(stats.histogram.max), serverCpuSeconds: Math.round(cpu * 100) / 100,
      cpuPerFrameUs: Math.round((cpu * 1e6 / Math.max(1, stats.frames)) * 100) / 100, loadCpuSeconds: Math.round(stats.cpuSeconds * 100) / 100,
    };
  } finally {
    await pool.closeAll().catch(() => undefined);
    await pool.exit();
    const pids = tree(server.pid);
    await server.stop();
    // Workers exit when their primary's IPC channel closes; any still there are stopped by pid.
    for (const pid of pids.slice(1)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    await sleep(1_000);
  }
}

/** Runs `rounds` rounds, each starting WORKERS=1 and WORKERS=2 once (in alternating order), and prints each run. */
export async function runWorkersBench(rounds) {
  const redis = await startRedis();
  try {
    console.log(`workers bench: redis mode, ${SUBSCRIBERS} × ${RATE}/s for ${SECONDS} s, ${rounds} round(s), load average ${loadavg().map((n) => n.toFixed(1)).join(' ')}`);
    for (let round = 1; round <= rounds; round += 1) {
      for (const workers of round % 2 === 1 ? [1, 2] : [2, 1]) {
        const r = await oneRun(redis.url, workers);
        console.log(`round ${round} WORKERS=${r.workers}: ${r.published} messages published (${r.unanswered} unanswered), ` +
          `${r.delivered}/${r.expected} frames (lost ${r.lost}, cuts ${r.cuts}, connect failures ${r.connectFailures}), ` +
          `p50 ${r.p50} p99 ${r.p99} max ${r.max} ms, server CPU ${r.serverCpuSeconds} s = ${r.cpuPerFrameUs} µs/frame, load CPU ${r.loadCpuSeconds} s; ` +
          `load average ${loadavg()[0].toFixed(1)}`);
      }
    }
  } finally {
    await redis.stop();
  }
}
