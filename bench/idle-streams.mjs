// `npm run bench -- --idle [--streams=19000] [--only=memory,floor,socket-floor] [--pin]`: as many idle streams as one process may hold.
// One server process (relay in memory mode, the raw node:http floor, then the socket floor) gets STREAMS idle subscribers from several
// load processes spread over loopback source addresses 127.0.0.2–127.0.0.9. Measured: memory per stream after GC
// (RSS and V8 heap), heartbeat lateness (HEARTBEAT_MS 5 s), CPU while idle, and one broadcast to all of them. `--pin`
// puts the server on one CPU and the load processes with this orchestrator on another (bench/pinning.mjs).
// See docs/benchmarks.md (idle streams) and docs/scaling.md.
/* global process, console, URL, setTimeout, performance, fetch */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildProcesses } from './child-processes.mjs';
import { Histogram } from './histogram.mjs';
import { integerOption, listOption } from './options.mjs';
import { choosePinning, pinProcess, pinSelf } from './pinning.mjs';
import { freePort, processStats, spawnWithLimit, waitHealthy } from './servers.mjs';

const HEARTBEAT_MS = 5_000;
const CLIENT_PROCESSES = 4;
const ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
const IDLE_WINDOW_MS = 3 * HEARTBEAT_MS + 1_000;
const BROADCAST_TIMEOUT_MS = 15_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

class IdlePool extends ChildProcesses {
  constructor(processes, cpu) {
    super(new URL('./idle-client.mjs', import.meta.url), processes, 'idle client');
    if (cpu !== undefined) for (const child of this.children) pinProcess(child.pid, cpu);
  }

  /** Each process opens its share, spread over all source addresses (one process per address pair). */
  async connect(total, target) {
    const share = Math.ceil(total / this.children.length);
    const replies = await Promise.all(this.children.map((child, i) => this.call(child, {
      cmd: 'connect', count: Math.max(0, Math.min(share, total - i * share)), heartbeatMs: HEARTBEAT_MS, ...target,
      addresses: ADDRESSES.filter((_, a) => a % this.children.length === i),
    })));
    return { open: replies.reduce((s, r) => s + r.open, 0), failed: replies.reduce((s, r) => s + r.failed, 0) };
  }

  async stats() {
    const replies = await this.all({ cmd: 'stats' });
    const merge = (key) => replies.reduce((h, r) => (h.merge(r[key]), h), new Histogram());
    const sum = (key) => replies.reduce((s, r) => s + r[key], 0);
    return { open: sum('open'), cuts: sum('cuts'), heartbeats: sum('heartbeats'), events: sum('events'), lateness: merge('lateness'), broadcast: merge('broadcast') };
  }

  exit() {
    for (const child of this.children) {
      child.send({ cmd: 'exit' });
      child.disconnect();
    }
  }
}

/** A server under test with the GC probe preloaded; `memory()` collects garbage in it and reads its memory. */
async function startServer(name, script, env, cpu) {
  const port = await freePort();
  const gcFile = join(tmpdir(), `sse-relay-idle-${process.pid}-${name}.json`);
  const child = spawnWithLimit(process.execPath, ['--expose-gc', '--import', './bench/gc-probe.mjs', script], { PORT: String(port), BENCH_GC_FILE: gcFile, ...env }, cpu);
  await waitHealthy(port, child, name.endsWith('floor') ? '/healthz' : '/readyz');
  const memory = async () => {
    rmSync(gcFile, { force: true });
    child.kill('SIGUSR2');
    const deadline = Date.now() + 30_000;
    while (!existsSync(gcFile) || readFileSync(gcFile, 'utf8') === '') {
      if (Date.now() > deadline) throw new Error(`${name}: no memory report after SIGUSR2`);
      await sleep(50);
    }
    await sleep(50);
    return JSON.parse(readFileSync(gcFile, 'utf8'));
  };
  const fileLimit = Number(/Max open files\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/limits`, 'utf8'))?.[1] ?? 0);
  const stop = async () => {
    rmSync(gcFile, { force: true });
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  return { name, port, pid: child.pid, memory, fileLimit, stop };
}

async function publishOne(port) {
  // fetch loads and connects on first use, which takes a loaded host hundreds of ms: not the server's latency.
  await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
  const data = `{"t":${(performance.timeOrigin + performance.now()).toFixed(3)},"p":"broadcast"}`;
  const response = await fetch(`http://127.0.0.1:${port}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'bench', data }) });
  if (response.status !== 202) throw new Error(`publish answered ${response.status}: ${await response.text()}`);
}

async function measure(server, streams, heartbeats, loadCpu) {
  const pool = new IdlePool(CLIENT_PROCESSES, loadCpu);
  try {
    const target = { host: '127.0.0.1', port: server.port, path: '/events?topic=bench' };
    // A warmed-up baseline: a few streams opened and closed first, then GC.
    await pool.connect(40, target);
    await pool.all({ cmd: 'close' });
    await sleep(1_000);
    const before = await server.memory();
    const opened = Date.now();
    const connected = await pool.connect(streams, target);
    const connectSeconds = (Date.now() - opened) / 1000;
    await sleep(2_000);
    const after = await server.memory();
    const open = connected.open;
    await pool.all({ cmd: 'reset' });
    const cpuBefore = processStats(server.pid).cpuSeconds;
    await sleep(IDLE_WINDOW_MS);
    const idleCpuSeconds = processStats(server.pid).cpuSeconds - cpuBefore;
    const idle = await pool.stats();
    await pool.all({ cmd: 'reset' });
    const broadcastCpuBefore = processStats(server.pid).cpuSeconds;
    await publishOne(server.port);
    const deadline = Date.now() + BROADCAST_TIMEOUT_MS;
    let delivered = await pool.stats();
    while (delivered.events < delivered.open && Date.now() < deadline) {
      await sleep(100);
      delivered = await pool.stats();
    }
    // The server's own CPU for the broadcast (the publish, the fan-out, 19,000 writes): what a core of its own would
    // need, whatever the load processes and the host's other jobs added to the latency.
    const broadcastCpuMs = (processStats(server.pid).cpuSeconds - broadcastCpuBefore) * 1000;
    return {
      server: server.name, streams, open, failed: connected.failed, connectSeconds: round(connectSeconds, 1), fileLimit: server.fileLimit,
      rssPerStream: Math.round((after.rss - before.rss) / open), heapPerStream: Math.round((after.heapUsed - before.heapUsed) / open),
      externalPerStream: Math.round((after.external - before.external) / open), rssBefore: before.rss, rssAfter: after.rss,
      idleCpuSecondsPerSecond: round(idleCpuSeconds / (IDLE_WINDOW_MS / 1000), 4),
      heartbeatCpuMicrosPerStream: heartbeats ? round((idleCpuSeconds * 1e6) / Math.max(1, idle.heartbeats), 2) : undefined,
      heartbeats: idle.heartbeats, heartbeatLatenessP50: round(idle.lateness.quantile(0.5)), heartbeatLatenessP99: round(idle.lateness.quantile(0.99)),
      heartbeatLatenessMax: round(idle.lateness.max), cutWhileIdle: idle.cuts,
      broadcastDelivered: delivered.events, broadcastP50: round(delivered.broadcast.quantile(0.5)), broadcastP99: round(delivered.broadcast.quantile(0.99)),
      broadcastMax: round(delivered.broadcast.max), broadcastCpuMs: Math.round(broadcastCpuMs),
    };
  } finally {
    await pool.all({ cmd: 'close' }).catch(() => undefined);
    pool.exit();
  }
}

const kib = (bytes) => (bytes / 1024).toFixed(2);

function report(results, machine, streams, pinning) {
  const lines = [
    `Machine: ${machine.nproc} × ${machine.cpu}, Node ${machine.node}; ${streams.toLocaleString('en')} idle streams, ${CLIENT_PROCESSES} load processes over ${ADDRESSES[0]}–${ADDRESSES.at(-1)}, HEARTBEAT_MS ${HEARTBEAT_MS}; ${pinning === undefined ? 'not pinned' : `server pinned to CPU ${pinning.server}, load and publisher to CPU ${pinning.load}`}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end; ${new Date().toISOString()}.`,
    '',
    '| server | open | RSS/stream KiB | heap/stream KiB | external/stream KiB | idle CPU (core share) | µs CPU per heartbeat | heartbeat lateness p50 / p99 / max ms | broadcast delivered | broadcast p50 / p99 / max ms | server CPU for the broadcast ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const hb = r.heartbeatCpuMicrosPerStream === undefined ? ['–', '–'] : [r.heartbeatCpuMicrosPerStream, `${r.heartbeatLatenessP50} / ${r.heartbeatLatenessP99} / ${r.heartbeatLatenessMax}`];
    lines.push(`| ${r.server} | ${r.open.toLocaleString('en')}${r.failed ? ` (${r.failed} failed)` : ''} | ${kib(r.rssPerStream)} | ${kib(r.heapPerStream)} | ${kib(r.externalPerStream)} | ${r.idleCpuSecondsPerSecond} | ${hb[0]} | ${hb[1]} | ${r.broadcastDelivered.toLocaleString('en')} | ${r.broadcastP50} / ${r.broadcastP99} / ${r.broadcastMax} | ${r.broadcastCpuMs} |`);
  }
  const relay = results.find((r) => r.server === 'relay-memory');
  if (relay) {
    lines.push('', `- ${relay.rssPerStream <= 9_000 ? 'PASS' : 'FAIL'} memory ≤ 9 KB per stream (${relay.rssPerStream} B RSS)`);
    lines.push(`- ${relay.heartbeatLatenessP99 < 1_000 && relay.cutWhileIdle === 0 ? 'PASS' : 'FAIL'} heartbeats on time: p99 lateness < 1 s (${relay.heartbeatLatenessP99} ms, ${relay.cutWhileIdle} streams cut)`);
    lines.push(`- ${relay.broadcastDelivered >= relay.open && relay.broadcastP99 < 250 ? 'PASS' : 'FAIL'} one broadcast to all, p99 < 250 ms (${relay.broadcastDelivered}/${relay.open}, p99 ${relay.broadcastP99} ms)`);
    const bound = results.find((r) => r.server === 'socket-floor');
    // What one thread can do at all on this host: the same broadcast as one socket write per stream and nothing else.
    if (bound) lines.push(`- broadcast ÷ socket-floor, same run: p99 ${round(relay.broadcastP99 / bound.broadcastP99)}×, server CPU ${round(relay.broadcastCpuMs / Math.max(1, bound.broadcastCpuMs))}× (socket-floor p99 ${bound.broadcastP99} ms, ${bound.broadcastCpuMs} ms CPU)`);
  }
  for (const r of results) if (r.fileLimit < streams + 100) lines.push(`- note: ${r.server}'s open-file limit is ${r.fileLimit}, below ${streams} streams: raise the hard limit (ulimit -Hn) or lower --streams`);
  return lines.join('\n') + '\n';
}

/** `options`: the parsed command line (bench/options.mjs): `streams`, `only`, `pin`. */
export async function runIdleBench(options) {
  if (!existsSync(new URL('../dist/functions/server.js', import.meta.url))) throw new Error('dist/ is missing: run `npm run build` first');
  const streams = integerOption(options, 'streams', 19_000);
  const only = listOption(options, 'only');
  const targets = [
    { name: 'relay-memory', script: 'dist/functions/server.js', heartbeats: true, env: {
      HOST: '127.0.0.1', SOURCE: 'memory', LOG_LEVEL: 'warn', AUTH_MODE: 'none', DEMO: 'false', HEARTBEAT_MS: String(HEARTBEAT_MS),
      MAX_CONNECTIONS: String(streams + 100), MAX_CONNECTIONS_PER_CLIENT: String(streams + 100), PUBLISH_RATE_PER_MINUTE: '0',
      OVERLOAD_LAG_MS: '0', LISTEN_BACKLOG: '4096',
    } },
    { name: 'floor', script: 'bench/floor-server.mjs', heartbeats: false, env: {} },
    { name: 'socket-floor', script: 'bench/floor-server.mjs', heartbeats: false, env: { FLOOR_WRITER: 'socket' } },
  ].filter((t) => only === undefined || only.includes(t.name) || only.includes(t.name.replace(/^relay-/, '')));
  const pinning = options.get('pin') === undefined ? undefined : choosePinning();
  if (pinning !== undefined) pinSelf(pinning.load);
  const results = [];
  for (const target of targets) {
    const server = await startServer(target.name, target.script, target.env, pinning?.server);
    try {
      const result = await measure(server, streams, target.heartbeats, pinning?.load);
      console.log(JSON.stringify(result));
      results.push(result);
    } finally {
      await server.stop();
    }
  }
  const machine = { nproc: cpus().length, node: process.version, cpu: cpus()[0]?.model ?? 'unknown' };
  const markdown = report(results, machine, streams, pinning);
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('idle.json', dir), JSON.stringify({ date: new Date().toISOString(), machine, streams, heartbeatMs: HEARTBEAT_MS, pinning: pinning ?? null, results }, null, 2) + '\n');
  writeFileSync(new URL('idle.md', dir), markdown);
  console.log(`\n${markdown}\nwritten to bench/results/idle.{json,md}`);
}
