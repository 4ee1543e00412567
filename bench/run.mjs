// `npm run bench [-- --quick] [-- --only=memory,floor]`: the fan-out benchmark. Starts each server in a child process,
// drives it from separate load-client processes over loopback, and writes JSON, Markdown and an SVG chart to
// bench/results/. See docs/benchmarks.md.
// `npm run bench -- --scaleout=3000`: three relay processes behind nginx on one Redis, one of them SIGKILLed
// (bench/scaleout.ts). `npm run bench -- --cluster-load`: Redis Cluster, 300 topics, 1,000 subscribers, two relay
// processes, a primary killed and a reshard while publishing (bench/cluster-load.ts).
/* global process, console, URL */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { runPhases } from './phases.mjs';
import { runStormBench } from './storm-run.mjs';
import { writeReport } from './report.mjs';
import { runTypeScript } from './run-ts.mjs';
import { startFloor, startRedis, startRelay } from './servers.mjs';

const argv = process.argv.slice(2);
const args = new Set(argv);
// `--storm N` (or --storm=N): the reconnect-storm benchmark instead of the fan-out one.
const stormArg = argv.find((a) => a.startsWith('--storm'));
const stormClients = stormArg === undefined ? undefined : Number(stormArg.includes('=') ? stormArg.slice(8) : argv[argv.indexOf(stormArg) + 1]);
const quick = args.has('--quick');
const only = [...args].find((a) => a.startsWith('--only='))?.slice(7).split(',');
const compression = args.has('--gzip');

const PHASES = quick
  ? [{ subscribers: 10_000, rate: 0 }, { subscribers: 1_000, rate: 10 }, { subscribers: 1_000, rate: 100 }, { subscribers: 5_000, rate: 100 }]
  : [
    { subscribers: 10_000, rate: 0 }, { subscribers: 1_000, rate: 10 }, { subscribers: 1_000, rate: 100 },
    { subscribers: 5_000, rate: 100 }, { subscribers: 10_000, rate: 10 }, { subscribers: 10_000, rate: 50 },
  ];
const OPTIONS = { seconds: quick ? 3 : 8, drainMs: quick ? 2_000 : 5_000, clients: 2 };

const TARGETS = [
  { name: 'relay-memory', start: () => startRelay({ source: 'memory' }) },
  { name: 'relay-redis', skipInQuick: true, start: async () => {
    const redis = await startRedis();
    try {
      const relay = await startRelay({ source: 'redis', redisUrl: redis.url });
      return { ...relay, stop: async () => { await relay.stop(); await redis.stop(); } };
    } catch (error) {
      await redis.stop();
      throw error;
    }
  } },
  { name: 'floor', start: () => startFloor() },
  ...(compression ? [{ name: 'relay-memory-gzip', gzip: true, start: () => startRelay({ source: 'memory', compression: true }) }] : []),
];

function log(name) {
  return (r) => console.log(`${name.padEnd(18)} ${String(r.subscribers).padStart(6)} subs × ${String(r.rate).padStart(3)}/s  ` + (r.rate === 0
    ? `idle RSS/conn ${(r.rssPerConnection / 1024).toFixed(1)} KiB`
    : `${r.deliveredPerSecond} frames/s, lost ${r.lost}, p50 ${r.p50} p99 ${r.p99} max ${r.max} ms, cpu ${r.cpuSeconds} s (load ${r.loadCpuSeconds} s)`));
}

async function main() {
  if (!existsSync(new URL('../dist/functions/server.js', import.meta.url))) throw new Error('dist/ is missing: run `npm run build` first');
  const started = Date.now();
  const runs = {};
  const notes = [];
  for (const target of TARGETS) {
    if ((quick && target.skipInQuick) || (only && !only.includes(target.name.replace(/^relay-/, '')) && !only.includes(target.name))) continue;
    let server;
    try {
      server = await target.start();
    } catch (error) {
      notes.push(`${target.name} skipped: ${error.message}`);
      console.warn(`${target.name} skipped: ${error.message}`);
      continue;
    }
    try {
      server.target = { host: '127.0.0.1', port: server.port, path: '/events?topic=bench', gzip: target.gzip === true };
      runs[target.name] = await runPhases(server, PHASES, { ...OPTIONS, log: log(target.name) });
    } finally {
      await server.stop();
    }
  }
  const machine = { nproc: cpus().length, node: process.version, cpu: cpus()[0]?.model ?? 'unknown', platform: `${process.platform} ${process.arch}` };
  const result = { date: new Date().toISOString(), quick, machine, options: { ...OPTIONS }, phases: PHASES, runs, notes, seconds: Math.round((Date.now() - started) / 1000) };
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const base = quick ? 'quick' : 'latest';
  writeFileSync(new URL(`${base}.json`, dir), JSON.stringify(result, null, 2) + '\n');
  const markdown = writeReport(result, dir, base);
  console.log(`\n${markdown}\nwritten to bench/results/${base}.{json,md,svg} in ${result.seconds} s`);
}

const scaleout = [...args].find((a) => a.startsWith('--scaleout'));
const mode = scaleout !== undefined
  ? runTypeScript('bench/scaleout.ts', [scaleout.split('=')[1] ?? '3000', ...[...args].filter((a) => a.startsWith('--backlog=')).map((a) => a.slice(10))])
  : args.has('--cluster-load') ? runTypeScript('bench/cluster-load.ts', [])
    : stormClients !== undefined ? runStormBench(argv, stormClients) : main();
mode.catch((error) => {
  console.error(error);
  process.exit(1);
});
