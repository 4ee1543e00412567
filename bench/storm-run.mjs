// The command side of `npm run bench -- --storm N`: options, both fronts, results in bench/results/storm.{json,md}.
/* global console, process, URL */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { runStorm } from './storm.mjs';

function option(argv, name, fallback) {
  const at = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (at === -1) return fallback;
  return argv[at].includes('=') ? argv[at].split('=')[1] : argv[at + 1];
}

const COLUMNS = [
  ['front', (r) => r.front], ['clients', (r) => r.opened], ['all back', (r) => (r.allBackMs === null ? 'not within 120 s' : `${(r.allBackMs / 1000).toFixed(1)} s`)],
  ['p50 away', (r) => `${(r.awayP50Ms / 1000).toFixed(1)} s`], ['p99 away', (r) => `${(r.awayP99Ms / 1000).toFixed(1)} s`],
  ['listen overflows', (r) => r.listenOverflows], ['503s', (r) => r.refused503], ['retry hints', (r) => r.reconnectHints],
  ['exactly once, in order', (r) => `${r.exactlyOnceInOrder} of ${r.opened}`], ['A exit', (r) => `${r.aExit.code} after ${(r.aExit.ms / 1000).toFixed(1)} s`],
];

function markdown(runs) {
  const head = `| ${COLUMNS.map(([name]) => name).join(' | ')} |\n|${COLUMNS.map(() => '---:').join('|')}|\n`;
  return head + runs.map((r) => `| ${COLUMNS.map(([, cell]) => cell(r)).join(' | ')} |`).join('\n') + '\n';
}

/** `--storm N [--rate R] [--front direct|nginx|both] [--drain-rate R] [--drain-ms MS] [--relay-env K=V,…]` */
export async function runStormBench(argv, clients) {
  if (!Number.isInteger(clients) || clients < 1) throw new Error('--storm needs a number of clients, e.g. --storm 10000');
  const rate = Number(option(argv, 'rate', 2));
  const fronts = option(argv, 'front', 'both') === 'both' ? ['direct', 'nginx'] : [option(argv, 'front')];
  const relayEnv = {};
  if (option(argv, 'drain-rate') !== undefined) relayEnv.DRAIN_RATE_PER_S = option(argv, 'drain-rate');
  if (option(argv, 'drain-ms') !== undefined) relayEnv.SHUTDOWN_DRAIN_MS = option(argv, 'drain-ms');
  // Any other relay variable, e.g. --relay-env LISTEN_BACKLOG=511,OVERLOAD_LAG_MS=0 (the settings before issue #19).
  for (const pair of (option(argv, 'relay-env', '') ?? '').split(',').filter(Boolean)) {
    const [key, value] = pair.split('=');
    relayEnv[key] = value;
  }
  const runs = [];
  const name = option(argv, 'out', 'storm');
  for (const front of fronts) runs.push(await runStorm({ clients, front, rate, relayEnv }));
  const machine = { nproc: cpus().length, node: process.version, cpu: cpus()[0]?.model ?? 'unknown' };
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL(`${name}.json`, dir), JSON.stringify({ date: new Date().toISOString(), machine, runs }, null, 2) + '\n');
  const table = markdown(runs);
  writeFileSync(new URL(`${name}.md`, dir), table);
  console.log(`\n${table}\nwritten to bench/results/${name}.{json,md}`);
}
