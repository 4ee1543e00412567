// `npm run bench -- [options]`: the benchmarks. With no mode option, the fan-out benchmark (bench/fanout.mjs) against
// the raw node:http floor; `--help` lists every mode and option. docs/benchmarks.md has the method and the figures.
/* global process, console */
import { checkKnown, integerOption, parseArgs } from './options.mjs';
import { FANOUT_OPTIONS, runFanout } from './fanout.mjs';
import { runStormBench } from './storm-run.mjs';
import { runIdleBench } from './idle-streams.mjs';
import { runTypeScript } from './run-ts.mjs';

/**
 * The modes besides fan-out, one line each: the option that selects it, its own options (name → help; checked, so a
 * typo fails loudly; omit `options` for a mode that parses argv itself) and how it runs (resolves with an exit code
 * or nothing). A new mode adds one line here.
 */
const MODES = [
  { option: 'storm', help: ' N: the reconnect storm of a deploy, N clients moved between two relays (bench/storm-run.mjs)',
    options: { storm: 'clients', rate: 'msg/s', front: 'direct | nginx | both', 'drain-rate': 'DRAIN_RATE_PER_S', 'drain-ms': 'SHUTDOWN_DRAIN_MS', 'relay-env': 'K=V,… for the relays', out: 'result name' },
    run: (argv, options) => runStormBench(argv, Number(options.get('storm'))) },
  { option: 'scaleout', help: '=N: three relays behind nginx on one Redis, N subscribers, one relay SIGKILLed (bench/scaleout.ts)',
    options: { scaleout: 'subscribers', backlog: 'nginx listen backlog' },
    run: (_argv, options) => runTypeScript('bench/scaleout.ts', [stringOf(options.get('scaleout'), '3000'), ...(options.has('backlog') ? [String(options.get('backlog'))] : [])]) },
  { option: 'cluster-load', help: ': Redis Cluster, 300 topics, 1,000 subscribers, failover and reshard (bench/cluster-load.ts)',
    options: { 'cluster-load': '' }, run: () => runTypeScript('bench/cluster-load.ts', []) },
  { option: 'workers', help: ': Redis mode, 10,000 × 100/s with WORKERS=1 beside WORKERS=2, alternating rounds (bench/workers.mjs)',
    options: { workers: '', rounds: 'rounds of both (default 2)' },
    run: (_argv, options) => import('./workers.mjs').then((m) => m.runWorkersBench(integerOption(options, 'rounds', 2))) },
  { option: 'compression', help: ': the memory relay without and with COMPRESSION=gzip: idle memory, CPU per frame, bytes on the wire (bench/gzip.mjs)',
    options: { compression: '', quick: 'fewer streams, shorter phases', rounds: 'rounds of the open-loop phases (default 1)' },
    run: (_argv, options) => import('./gzip.mjs').then((m) => m.runGzipBench({ quick: options.has('quick'), rounds: integerOption(options, 'rounds', 1) })) },
  { option: 'cold-start', help: ': Lambda bundle sizes and cold starts per source under aws-lambda-ric (scripts/cold-start.mjs)',
    options: { 'cold-start': '', runs: 'interleaved rounds (default 9)', before: 'another checkout, measured alongside' },
    run: (_argv, options) => {
      process.argv.splice(2, Infinity, '--runs', String(integerOption(options, 'runs', 9)), ...(options.has('before') ? ['--before', String(options.get('before'))] : []));
      return import('../scripts/cold-start.mjs');
    } },
  { option: 'idle', help: ': as many idle streams as one process may hold (19,000), relay and floor: memory, heartbeats, one broadcast (bench/idle-streams.mjs)',
    options: { idle: '', streams: 'idle streams (19000)', only: 'memory,floor,socket-floor', pin: 'server on one CPU, load on another' }, run: (_argv, options) => runIdleBench(options) },
];

function stringOf(value, fallback) {
  return value === true || value === undefined ? fallback : String(value);
}

function usage() {
  const fanout = Object.entries(FANOUT_OPTIONS).map(([name, help]) => `  --${name.padEnd(16)} ${help}`);
  const modes = MODES.map((mode) => `  --${mode.option}${mode.help}`);
  return ['npm run bench -- [options]', '', 'fan-out benchmark (default):', ...fanout, '', 'other modes:', ...modes].join('\n');
}

async function main(argv) {
  const options = parseArgs(argv);
  if (options.has('help')) return void console.log(usage());
  const mode = MODES.find((m) => options.has(m.option));
  if (mode === undefined) {
    checkKnown(options, FANOUT_OPTIONS, 'the fan-out benchmark');
    return runFanout(options);
  }
  if (mode.options) checkKnown(options, mode.options, `--${mode.option}`);
  return mode.run(argv, options);
}

main(process.argv.slice(2)).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
}, (error) => {
  console.error(error instanceof Error ? error.message : error);
  if (error instanceof Error && !/^(--|unknown option|unexpected argument)/.test(error.message)) console.error(error.stack);
  process.exit(1);
});
