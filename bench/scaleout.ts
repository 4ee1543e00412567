// `npm run bench -- --scaleout=3000`: three relay processes behind nginx on one Redis, N EventSource subscribers, one
// relay SIGKILLed while publishing (test/support/relay-scaleout.ts; test/redis/scale-out.test.ts runs it with 300).
// Writes bench/results/scaleout.json; exits 1 if any subscriber missed, repeated or reordered a message.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { runScaleOut } from '../test/support/relay-scaleout.js';

const subscribers = Number(process.argv[2] ?? 3000);
if (!Number.isInteger(subscribers) || subscribers < 3) throw new Error(`--scaleout=N needs a whole number of subscribers ≥ 3; got ${process.argv[2]}`);
const options = { subscribers, topics: 30, ratePerSecond: 100, phaseMs: 8_000 };
const started = Date.now();
const report = await runScaleOut({ ...options, log: (line) => console.log(line) });
const machine = { nproc: cpus().length, node: process.version, cpu: cpus()[0]?.model ?? 'unknown' };
const result = { date: new Date().toISOString(), machine, options, seconds: Math.round((Date.now() - started) / 1000), report };
writeFileSync(new URL('./results/scaleout.json', import.meta.url.replace('/.esbuild/bench/', '/bench/')), JSON.stringify(result, null, 2) + '\n');
console.log([
  `${report.subscribers} subscribers on ${report.topics} topics; streams per relay ${report.perRelay.join(' / ')}`,
  `published ${report.published} (${report.retried} publishes retried with the same id), delivered ${report.delivered} events`,
  `SIGKILL of a relay with ${report.onKilled} streams: ${report.moved} moved (reopened p50 ${report.reopenMs.p50} ms, max ${report.reopenMs.max} ms), ${report.strays} other breaks; survivors hold ${report.perRelayAfter.join(' / ')}`,
  report.problems.length === 0 ? 'PASS every subscriber got every message of its topic once and in order' : `FAIL ${report.problems.length} problems:\n${report.problems.slice(0, 20).join('\n')}`,
].join('\n'));
process.exitCode = report.problems.length === 0 && report.moved === report.onKilled ? 0 : 1;
