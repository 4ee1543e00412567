// `npm run bench -- --scaleout=3000`: three relay processes behind nginx on one Redis, N EventSource subscribers, one
// relay SIGKILLed while publishing (test/support/relay-scaleout.ts; test/redis/scale-out.test.ts runs it with 300).
// Writes bench/results/scaleout.json; exits 1 if any subscriber missed, repeated or reordered a message.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { runScaleOut } from '../test/support/relay-scaleout.js';

const subscribers = Number(process.argv[2] ?? 3000);
const backlog = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const workerConnections = process.env.SCALEOUT_WORKER_CONNECTIONS === undefined ? undefined : Number(process.env.SCALEOUT_WORKER_CONNECTIONS);
if (!Number.isInteger(subscribers) || subscribers < 3) throw new Error(`--scaleout=N needs a whole number of subscribers ≥ 3; got ${process.argv[2]}`);
// 30 messages/s over 30 topics: 100 subscribers per topic make 3,000 events/s, which one driver process parses with room to spare.
const options = { subscribers, topics: 30, ratePerSecond: 30, phaseMs: 8_000 };
const started = Date.now();
const report = await runScaleOut({ ...options, ...(backlog === undefined ? {} : { backlog }), ...(workerConnections === undefined ? {} : { workerConnections }), log: (line) => console.log(line) });
const machine = { nproc: cpus().length, node: process.version, cpu: cpus()[0]?.model ?? 'unknown' };
const result = { date: new Date().toISOString(), machine, options: { ...options, backlog: backlog ?? 'nginx default (511)' }, seconds: Math.round((Date.now() - started) / 1000), report };
writeFileSync(new URL('./results/scaleout.json', import.meta.url.replace('/.esbuild/bench/', '/bench/')), JSON.stringify(result, null, 2) + '\n');
console.log([
  `${report.subscribers} subscribers on ${report.topics} topics; streams per relay ${report.perRelay.join(' / ')}`,
  `published ${report.published} (${report.retried} publishes retried with the same id: ${JSON.stringify(report.retriedStatuses)}), delivered ${report.delivered} events`,
  `SIGKILL of a relay with ${report.onKilled} streams: ${report.moved} moved (reopened p50 ${report.reopenMs.p50} ms, max ${report.reopenMs.max} ms), ${report.strays} other breaks; survivors hold ${report.perRelayAfter.join(' / ')}`,
  `nginx errors: ${JSON.stringify(report.nginxErrors)}; failed publish requests: ${JSON.stringify(report.failures)}`,
  `event-loop delay of this driver process: p99 ${report.driverLoopDelayMs.p99} ms, max ${report.driverLoopDelayMs.max} ms`,
  report.problems.length === 0 ? 'PASS every subscriber got every message of its topic once and in order' : `FAIL ${report.problems.length} problems:\n${report.problems.slice(0, 20).join('\n')}`,
].join('\n'));
process.exitCode = report.problems.length === 0 && report.moved === report.onKilled ? 0 : 1;
