// `npm run bench -- --storm N [--rate R]`: the reconnect storm of a deploy (issue #19). Two relays in Redis mode share
// one Redis; N raw-socket clients (bench/storm-client.mjs, several processes, source addresses 127.0.0.2–9) hold streams
// on relay A while a publisher appends numbered messages. A gets SIGTERM — after the front is pointed at B, as an
// orchestrator does — and every client must come back on B: the figures are the time until all are back, the time each
// was away, the kernel's listen-queue overflows, the refusals, and how many clients got every message exactly once and
// in order. Run twice: clients straight to the relays, and through nginx (nginx/sse-relay.conf, two upstream servers).
/* global console, process, URL, setTimeout, setInterval, clearInterval */
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import { Redis } from 'ioredis';
import { startNginxFront } from './storm-nginx.mjs';
import { execFileSync } from 'node:child_process';
import { get } from 'node:http';
import { processStats, startRedis, startRelay } from './servers.mjs';

const CLIENT = new URL('./storm-client.mjs', import.meta.url);
const PER_PROCESS = 2_500;
const TOPIC = 'storm';

/** TcpExt counters of the kernel (this network namespace, so other processes on the host add to them too). */
export function listenCounters() {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  const get = (name) => Number(values[names.indexOf(name)]);
  return { overflows: get('ListenOverflows'), drops: get('ListenDrops') };
}

class StormClients {
  constructor(count) {
    this.processes = Array.from({ length: Math.max(4, Math.ceil(count / PER_PROCESS)) }, () => fork(CLIENT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    // The clients would be other machines: at nice 10 they take CPU from the relays and nginx only when those leave some.
    for (const child of this.processes) setPriority(child.pid, 10);
    this.nextId = 1;
  }

  call(child, message) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const listen = (reply) => {
        if (reply.id !== id) return;
        child.off('message', listen);
        resolve(reply);
      };
      child.on('message', listen);
      child.send({ ...message, id });
    });
  }

  async open(count, target) {
    const share = Math.ceil(count / this.processes.length);
    const replies = await Promise.all(this.processes.map((child, i) => this.call(child, {
      cmd: 'open', target, base: i * share, count: Math.max(0, Math.min(share, count - i * share)),
    })));
    return replies.reduce((sum, r) => sum + r.open, 0);
  }

  retarget(target) {
    return Promise.all(this.processes.map((child) => this.call(child, { cmd: 'target', target })));
  }

  async stats() {
    const replies = await Promise.all(this.processes.map((child) => this.call(child, { cmd: 'stats' })));
    const sum = (key) => replies.reduce((s, r) => s + r[key], 0);
    const counts = {};
    for (const r of replies) for (const [k, v] of Object.entries(r.counts)) counts[k] = (counts[k] ?? 0) + v;
    return {
      clients: sum('clients'), open: sum('open'), moved: sum('moved'), stillAway: sum('stillAway'), duplicates: sum('duplicates'),
      gaps: sum('gaps'), clean: replies.flatMap((r) => r.clean), counts, away: replies.flatMap((r) => r.away), lastN: replies.flatMap((r) => r.lastN),
      lastBackAt: Math.max(...replies.map((r) => r.lastBackAt)),
    };
  }

  exit() {
    for (const child of this.processes) {
      child.send({ cmd: 'exit' });
      child.disconnect();
    }
  }
}

/** Appends `{"n":1}`, `{"n":2}`… to the topic's stream at `rate` a second, straight to Redis as a producer would. */
function startPublisher(redisUrl, rate) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let n = 0;
  let chain = Promise.resolve();
  const timer = setInterval(() => {
    const next = ++n;
    chain = chain.then(() => redis.xadd(`sse:${TOPIC}`, 'MAXLEN', '~', 100_000, '*', 'event', 'message', 'data', `{"n":${next},"t":${Date.now()}}`)).then(() => undefined);
  }, 1_000 / rate);
  return {
    get published() {
      return n;
    },
    async stop() {
      clearInterval(timer);
      await chain;
      redis.disconnect();
      return n;
    },
  };
}

/** Every `everyMs`: the longest accept queue seen on `port` (ss Recv-Q of the listener) and the CPU seconds of `pid`. */
function watchServer(port, pid, everyMs = 200) {
  let maxQueue = 0;
  const cpuStart = processStats(pid).cpuSeconds;
  const started = Date.now();
  const timeline = [];
  const timer = setInterval(() => {
    try {
      const line = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
      const queue = Number(line.split(/\s+/)[1] ?? 0);
      maxQueue = Math.max(maxQueue, queue);
      // Once a second: seconds since SIGTERM, accept queue, CPU seconds so far, open files, host load average.
      if (timeline.length < (Date.now() - started) / 1_000) {
        const fds = readdirSync(`/proc/${pid}/fd`).length;
        timeline.push([timeline.length, queue, Math.round((processStats(pid).cpuSeconds - cpuStart) * 10) / 10, fds, Math.round(loadavg()[0] * 10) / 10]);
      }
    } catch {
      // ss missing or the process gone: the figure stays what it was
    }
  }, everyMs);
  return () => {
    clearInterval(timer);
    return { maxAcceptQueue: maxQueue, cpuSeconds: Math.round((processStats(pid).cpuSeconds - cpuStart) * 10) / 10, timeline };
  };
}

/** The relay's own counters (GET /metrics), those that say how streams were opened. */
function relayCounters(port) {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => {
        // A series by its exact name and labels. Absent: a labelled counter not counted yet is 0; anything else NaN (no scrape).
        const pick = (series) => Number(text.split('\n').find((line) => line.startsWith(`${series} `))?.slice(series.length + 1) ?? (series.includes('{') ? 0 : NaN));
        resolve({ replays: pick('sse_replays_total'), replaysFromMemory: pick('sse_replays_from_memory_total'), overloadRejected: pick('sse_http_errors_total{code="overloaded",route="events"}'), streamsOpened: pick('sse_connections_total') });
      });
    }).on('error', () => resolve({}));
  });
}

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function until(check, timeoutMs, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// What an interrupted run (Ctrl-C, a timeout) must still stop: the relays, nginx and Redis it started, by their pids.
let stops = [];
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    void Promise.all(stops.map((stop) => stop().catch(() => undefined))).finally(() => process.exit(130));
  });
}

/** One storm: N clients moved from relay A to relay B, straight (`front: 'direct'`) or through nginx. */
export async function runStorm({ clients: count, front, rate, relayEnv, log = console.log }) {
  const redis = await startRedis();
  const env = { SHUTDOWN_DRAIN_MS: '5000', ...relayEnv };
  stops = [() => redis.stop()];
  try {
    const a = await startRelay({ source: 'redis', redisUrl: redis.url, env });
    stops.push(() => a.stop());
    const b = await startRelay({ source: 'redis', redisUrl: redis.url, env });
    stops.push(() => b.stop());
    let nginx;
    if (front === 'nginx') {
      nginx = await startNginxFront(a.port, b.port);
      stops.push(() => nginx.stop());
    }
    const path = `/events?topic=${TOPIC}`;
    const targetOf = (port) => ({ host: '127.0.0.1', port: nginx?.port ?? port, path });
    const pool = new StormClients(count);
    stops.push(async () => pool.exit());
    const opened = await pool.open(count, targetOf(a.port));
    log(`storm ${front}: ${opened} of ${count} clients open on A`);
    const publisher = startPublisher(redis.url, rate);
    await new Promise((r) => setTimeout(r, 2_000));

    const before = listenCounters();
    // The orchestrator: endpoints first (the front now sends new connections to B), then SIGTERM.
    if (nginx) await nginx.moveTo(b.port, a.port);
    else await pool.retarget(targetOf(b.port));
    const watchB = watchServer(b.port, b.pid);
    const signalledAt = Date.now();
    const exited = a.signal('SIGTERM').then((code) => ({ code, ms: Date.now() - signalledAt }));
    const allBack = await until(async () => {
      const s = await pool.stats();
      return s.moved >= opened && s.stillAway === 0 ? s : undefined;
    }, 120_000, 500);
    const exit = await exited;
    const after = listenCounters();
    const relayB = { ...watchB(), ...(await relayCounters(b.port)) };
    await new Promise((r) => setTimeout(r, 2_000));
    const published = await publisher.stop();
    const final = await until(async () => {
      const s = await pool.stats();
      return s.lastN.every((n) => n === published) ? s : undefined;
    }, 30_000, 500) ?? await pool.stats();
    const away = [...final.away].sort((x, y) => x - y);
    const result = {
      front, clients: count, opened, rate, published, relayEnv: env, loadAverage: Math.round(loadavg()[0] * 10) / 10,
      allBackMs: allBack === undefined ? null : Math.round(allBack.lastBackAt - signalledAt),
      moved: final.moved, stillAway: final.stillAway,
      awayP50Ms: Math.round(percentile(away, 50)), awayP99Ms: Math.round(percentile(away, 99)), awayMaxMs: Math.round(away.at(-1) ?? NaN),
      listenOverflows: after.overflows - before.overflows, listenDrops: after.drops - before.drops,
      refused503: final.counts.refused503, reconnectHints: final.counts.hints, connectErrors: final.counts.errors,
      exactlyOnceInOrder: final.lastN.filter((n, i) => n === published && final.clean[i]).length,
      duplicates: final.duplicates, gaps: final.gaps, aExit: exit, relayB,
    };
    log(`storm ${front}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error) => console.error(error));
  }
}
