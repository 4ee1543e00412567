// The fan-out benchmark (the default mode of `npm run bench`): each server in its own child process, driven from
// separate load-client processes over loopback; JSON, Markdown and an SVG chart in bench/results/. docs/benchmarks.md
// has the method. Options: FANOUT_OPTIONS below.
/* global process, console, URL */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { integerOption, listOption } from './options.mjs';
import { runPhases } from './phases.mjs';
import { choosePinning, pinSelf } from './pinning.mjs';
import { judgeQuick, formatQuick } from './quick-gate.mjs';
import { writeReport } from './report.mjs';
import { notDelivered } from './targets.mjs';
import { startFloor, startRedis, startRelay } from './servers.mjs';

export const FANOUT_OPTIONS = {
  quick: 'a short run (3 s phases, memory mode and floor) that prints the ratios to the floor and exits 1 below a threshold',
  pin: 'server on one CPU, the load (clients, publisher) on another (taskset)',
  'load-processes': 'how many load-client processes hold the subscribers (default 2; 1 = issue 17\'s harness)',
  phase: 'phases to run instead of the default list, e.g. --phase=5000x100,10000x100 (10000x0: idle memory)',
  only: 'servers to run: memory, redis, floor (comma-separated)',
  seconds: 'seconds of publishing per phase (default 8, quick 3)',
  out: 'base name of the result files in bench/results/ (default latest, quick or pinned)',
};

const IDLE = { subscribers: 10_000, rate: 0 };
export const FULL_PHASES = [
  IDLE, { subscribers: 1_000, rate: 10 }, { subscribers: 1_000, rate: 100 }, { subscribers: 5_000, rate: 100 },
  { subscribers: 10_000, rate: 10 }, { subscribers: 10_000, rate: 50 }, { subscribers: 10_000, rate: 100 },
];
export const QUICK_PHASES = [IDLE, { subscribers: 1_000, rate: 10 }, { subscribers: 1_000, rate: 100 }, { subscribers: 5_000, rate: 100 }];

/** `--phase=5000x100,10000x0` → phases; a clear error for anything else. */
export function parsePhases(list) {
  return list.map((text) => {
    const match = /^(\d+)x(\d+)$/.exec(text);
    const phase = match && { subscribers: Number(match[1]), rate: Number(match[2]) };
    if (!phase || phase.subscribers < 1 || phase.subscribers > 19_000) {
      throw new Error(`--phase: "${text}" is not <subscribers>x<messages per second> with 1–19,000 subscribers, e.g. 5000x100 (10000x0 for idle memory)`);
    }
    return phase;
  });
}

async function startRedisRelay(cpus) {
  // Redis stands for another machine: it runs on the load CPU, not the server's.
  const redis = await startRedis({ cpu: cpus?.load });
  try {
    const relay = await startRelay({ source: 'redis', redisUrl: redis.url, cpu: cpus?.server });
    return { ...relay, stop: async () => { await relay.stop(); await redis.stop(); } };
  } catch (error) {
    await redis.stop();
    throw error;
  }
}

const SERVER_NAMES = ['relay-memory', 'relay-redis', 'floor'];

/** The servers this run measures, in order: --only picks some, --quick leaves Redis out unless --only names it. */
function servers(settings, cpus) {
  return allServers(cpus).filter((target) => (settings.only
    ? settings.only.includes(target.name) || settings.only.includes(target.name.replace(/^relay-/, ''))
    : !(settings.quick && target.skipInQuick)));
}

function allServers(cpus) {
  return [
    { name: 'relay-memory', start: () => startRelay({ source: 'memory', cpu: cpus?.server }) },
    { name: 'relay-redis', skipInQuick: true, start: () => startRedisRelay(cpus) },
    { name: 'floor', start: () => startFloor({ cpu: cpus?.server }) },
  ];
}

function log(name) {
  return (r) => console.log(`${name.padEnd(18)} ${String(r.connected ?? r.subscribers).padStart(6)} subs × ${String(r.rate).padStart(3)}/s  ` + (r.rate === 0
    ? `idle RSS/conn ${(r.rssPerConnection / 1024).toFixed(1)} KiB`
    : `${r.deliveredPerSecond} frames/s, ${r.allDelivered ? 'all delivered' : `NOT all delivered (${notDelivered(r)})`}, p50 ${r.p50} p99 ${r.p99} max ${r.max} ms, server ${r.serverCpuUsPerFrame} µs/frame (${r.cpuSeconds} s), load ${r.loadCpuSeconds} s`));
}

/** The settings of one fan-out run from its options. */
export function fanoutSettings(options) {
  const quick = options.has('quick');
  const phaseList = listOption(options, 'phase');
  const seconds = integerOption(options, 'seconds', quick ? 3 : 8);
  const only = listOption(options, 'only');
  const unknown = only?.filter((name) => !SERVER_NAMES.includes(name) && !SERVER_NAMES.includes(`relay-${name}`));
  if (unknown?.length) throw new Error(`--only: no server named ${unknown.join(', ')}; the servers are memory, redis, floor (compression has its own mode: --compression)`);
  const out = options.get('out');
  if (out === true || (out !== undefined && !/^[\w.-]+$/.test(out))) throw new Error('--out needs a file name of letters, digits, ".", "-" or "_", e.g. --out=pinned-before');
  return {
    quick, pin: options.has('pin'), only,
    phases: phaseList ? parsePhases(phaseList) : quick ? QUICK_PHASES : FULL_PHASES,
    run: { seconds, drainMs: quick ? 2_000 : 5_000, answerTimeoutMs: 10_000, clients: integerOption(options, 'load-processes', 2) },
    out: out ?? (quick ? 'quick' : options.has('pin') ? 'pinned' : 'latest'),
  };
}

async function runServer(target, settings, cpus) {
  const server = await target.start();
  try {
    server.target = { host: '127.0.0.1', port: server.port, path: '/events?topic=bench' };
    // --quick waits only 3 s for a saturated floor's publish answers (its completeness is not judged), so the run stays
    // short; a relay gets the full 10 s, since every one of its publishes must be answered.
    const answerTimeoutMs = settings.quick && target.name === 'floor' ? 3_000 : settings.run.answerTimeoutMs;
    return await runPhases(server, settings.phases, { ...settings.run, answerTimeoutMs, loadCpu: cpus?.load, log: log(target.name) });
  } finally {
    await server.stop();
  }
}

/** Runs the fan-out benchmark; resolves with the process exit code (1 when --quick finds a ratio below its threshold). */
export async function runFanout(options) {
  if (!existsSync(new URL('../dist/functions/server.js', import.meta.url))) throw new Error('dist/ is missing: run `npm run build` first');
  const settings = fanoutSettings(options);
  const pinning = settings.pin ? choosePinning() : null;
  if (pinning) {
    pinSelf(pinning.load);
    console.log(`pinned: server on CPU ${pinning.server}; load (${processes(settings)}, publisher, Redis) on CPU ${pinning.load}`);
  } else console.log(`not pinned: server and ${processes(settings)} share all ${cpus().length} CPUs (--pin to separate them)`);
  const started = Date.now();
  const loadBefore = loadavg();
  const runs = {};
  const notes = [];
  for (const target of servers(settings, pinning)) {
    try {
      runs[target.name] = await runServer(target, settings, pinning);
    } catch (error) {
      notes.push(`${target.name} skipped: ${error.message}`);
      console.warn(`${target.name} skipped: ${error.message}`);
    }
  }
  const machine = { nproc: cpus().length, node: process.version, cpu: cpus()[0]?.model ?? 'unknown', platform: `${process.platform} ${process.arch}` };
  const result = {
    date: new Date().toISOString(), quick: settings.quick, machine, pinning, loadAverage: { before: loadBefore.map(round), after: loadavg().map(round) },
    options: { ...settings.run }, phases: settings.phases, runs, notes, seconds: Math.round((Date.now() - started) / 1000),
  };
  const verdict = settings.quick ? judgeQuick(result) : undefined;
  if (verdict) result.quickGate = verdict;
  writeResults(result, settings.out);
  if (!verdict) return 0;
  console.log(formatQuick(verdict));
  return verdict.ok ? 0 : 1;
}

function writeResults(result, name) {
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${name}.json`, dir), JSON.stringify(result, null, 2) + '\n');
  const markdown = writeReport(result, dir, name);
  console.log(`\n${markdown}\nwritten to bench/results/${name}.{json,md,svg} in ${result.seconds} s`);
}

function processes(settings) {
  return `${settings.run.clients} load process${settings.run.clients === 1 ? '' : 'es'}`;
}

function round(value) {
  return Math.round(value * 100) / 100;
}
