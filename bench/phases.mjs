// Runs the load phases against one server: the same subscribers, rates and windows for sse-relay and the floor.
/* global setTimeout */
import { ClientPool } from './client-pool.mjs';
import { publishAtRate } from './publisher.mjs';
import { processStats } from './servers.mjs';

const TOPIC = 'bench';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `expected` frames arrived or `drainMs` passed; returns the stats and when the count stopped. */
async function awaitDelivery(pool, expected, drainMs) {
  const deadline = Date.now() + drainMs;
  let stats = await pool.stats();
  let lastChange = Date.now();
  while (stats.frames < expected && Date.now() < deadline) {
    await sleep(100);
    const next = await pool.stats();
    if (next.frames !== stats.frames) lastChange = Date.now();
    stats = next;
  }
  return { stats, doneAt: stats.frames >= expected ? Date.now() : lastChange };
}

async function loadPhase(pool, server, phase, options) {
  const connected = await pool.grow(phase.subscribers, server.target);
  await sleep(300);
  await pool.reset();
  const before = processStats(server.pid);
  const published = await publishAtRate({ port: server.port, topic: TOPIC, rate: phase.rate, seconds: options.seconds, answerTimeoutMs: options.answerTimeoutMs });
  const subscribers = pool.subscribers;
  const expected = published.accepted * subscribers;
  const { stats, doneAt } = await awaitDelivery(pool, expected, options.drainMs);
  const after = processStats(server.pid);
  const elapsed = Math.max(options.seconds, (doneAt - published.startedAt) / 1000);
  const lost = Math.max(0, expected - stats.frames);
  const publishErrors = published.sent - published.accepted;
  return {
    // `subscribers` stays the phase's, so phases of different servers line up; `connected` is how many were open.
    ...phase, connected: subscribers, connectFailures: connected.failed, published: published.accepted, publishErrors,
    publisherMaxLateMs: round(published.maxLateMs), expected, delivered: stats.frames, lost, cuts: stats.cuts,
    // "Every frame delivered": every publish answered 202 in time, every subscriber open, none cut, none lost. A
    // publish answered too late still fans out, but its frames cannot be counted as expected, so it fails this too.
    allDelivered: lost === 0 && publishErrors === 0 && stats.cuts === 0 && subscribers === phase.subscribers, deliveredPerSecond: Math.round(stats.frames / elapsed), bytesReceived: stats.bytes,
    p50: round(stats.histogram.quantile(0.5)), p99: round(stats.histogram.quantile(0.99)), max: round(stats.histogram.max),
    cpuSeconds: round(after.cpuSeconds - before.cpuSeconds), loadCpuSeconds: round(stats.cpuSeconds), rssBytes: after.rss,
    // The server's CPU time over the phase (utime + stime, /proc/<pid>/stat) per delivered frame, and the load's.
    serverCpuUsPerFrame: perFrameUs(after.cpuSeconds - before.cpuSeconds, stats.frames),
    loadCpuUsPerFrame: perFrameUs(stats.cpuSeconds, stats.frames),
  };
}

async function idlePhase(pool, server, phase, baselineRss) {
  const connected = await pool.grow(phase.subscribers, server.target);
  await sleep(2_000);
  const { rss, cpuSeconds } = processStats(server.pid);
  const subscribers = pool.subscribers;
  return {
    ...phase, connected: subscribers, connectFailures: connected.failed, rssBytes: rss, baselineRssBytes: baselineRss,
    rssPerConnection: Math.round((rss - baselineRss) / Math.max(1, subscribers)), cpuSecondsTotal: round(cpuSeconds),
  };
}

/**
 * Runs `phases` in order against a started server ({port, pid, target}). An idle phase measures memory on fresh
 * connections (it runs first and its subscribers are closed after), a load phase publishes at `rate` for `seconds`.
 * `options`: { seconds, drainMs, answerTimeoutMs (publishes unanswered this long after the last send count as not
 * accepted), clients (load processes), loadCpu (pin them there, or undefined), log }.
 */
export async function runPhases(server, phases, options) {
  const pool = new ClientPool(options.clients, options.loadCpu, options.client);
  const results = [];
  try {
    // A few requests first, so the baseline includes a warmed-up server rather than an empty one.
    await pool.grow(20, server.target);
    await sleep(500);
    await pool.closeAll();
    await sleep(500);
    const baselineRss = processStats(server.pid).rss;
    for (const phase of phases) {
      const started = Date.now();
      const result = phase.rate === 0 ? await idlePhase(pool, server, phase, baselineRss) : await loadPhase(pool, server, phase, options);
      result.wallSeconds = round((Date.now() - started) / 1000);
      options.log(result);
      results.push(result);
      if (phase.rate === 0) {
        await pool.closeAll();
        await sleep(1_000);
      }
    }
  } finally {
    await pool.closeAll().catch(() => undefined);
    await pool.exit();
  }
  return results;
}

/** CPU µs per frame, two decimals; null when nothing was delivered. */
function perFrameUs(cpuSeconds, frames) {
  return frames > 0 ? round((cpuSeconds * 1e6) / frames) : null;
}

function round(value) {
  return Math.round(value * 100) / 100;
}
