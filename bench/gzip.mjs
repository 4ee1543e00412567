// `npm run bench -- --compression [--quick] [--rounds=N]`: what COMPRESSION=gzip costs and saves. The same relay (memory
// source) is run without and with COMPRESSION=gzip, back to back, driven by the same load client
// (gzip-load-client.mjs: it inflates each gzip stream as a browser would). Reports per phase: frames/s, lost frames,
// p99, server CPU and bytes on the wire (HTTP framing included) per delivered frame; and the idle memory per stream.
// See docs/benchmarks.md, "Compression".
/* global console, URL */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { lockstepCpuPerFrame } from './gzip-lockstep.mjs';
import { idleMemoryPerStream } from './gzip-memory.mjs';
import { runPhases } from './phases.mjs';
import { startRelay } from './servers.mjs';

const CLIENT = new URL('./gzip-load-client.mjs', import.meta.url);
const VARIANTS = [
  { name: 'plain', compression: false },
  { name: 'gzip', compression: true },
];

function phasesFor(quick) {
  return quick
    ? [{ subscribers: 5_000, rate: 0 }, { subscribers: 5_000, rate: 100 }]
    : [{ subscribers: 5_000, rate: 0 }, { subscribers: 1_000, rate: 10 }, { subscribers: 1_000, rate: 100 }, { subscribers: 5_000, rate: 100 }];
}

function log(name) {
  return (r) => console.log(`${name.padEnd(6)} ${String(r.subscribers).padStart(6)} subs × ${String(r.rate).padStart(3)}/s  ` + (r.rate === 0
    ? `idle RSS/conn ${(r.rssPerConnection / 1024).toFixed(2)} KiB`
    : `${r.deliveredPerSecond} frames/s, lost ${r.lost}, p50 ${r.p50} p99 ${r.p99} ms, server cpu ${r.cpuSeconds} s, ` +
      `${(r.bytesReceived / Math.max(1, r.delivered)).toFixed(1)} B/frame on the wire`));
}

/** One markdown row per phase: plain → gzip, with the ratios the targets are about. */
function table(runs, phases) {
  const rows = ['| phase | frames/s plain → gzip | lost | p99 ms plain → gzip | server CPU s plain → gzip (ratio) | wire B/frame plain → gzip (ratio) | idle RSS/stream plain → gzip |', '|---|---:|---:|---:|---:|---:|---:|'];
  phases.forEach((phase, i) => {
    const [p, g] = [runs.plain[i], runs.gzip[i]];
    const label = `${phase.subscribers.toLocaleString('en')} × ${phase.rate}/s`;
    if (phase.rate === 0) {
      const delta = g.rssPerConnection - p.rssPerConnection;
      rows.push(`| ${label} (idle) | | | | | | ${p.rssPerConnection} → ${g.rssPerConnection} B (${delta >= 0 ? '+' : ''}${delta} B) |`);
      return;
    }
    const perFrame = (r) => r.bytesReceived / Math.max(1, r.delivered);
    rows.push(`| ${label} | ${p.deliveredPerSecond} → ${g.deliveredPerSecond} | ${p.lost} / ${g.lost} | ${p.p99} → ${g.p99} | ` +
      `${p.cpuSeconds} → ${g.cpuSeconds} (${(g.cpuSeconds / p.cpuSeconds).toFixed(2)}) | ${perFrame(p).toFixed(1)} → ${perFrame(g).toFixed(1)} (${(perFrame(g) / perFrame(p)).toFixed(2)}) | |`);
  });
  return rows.join('\n');
}

/** The compression benchmark; `quick`: fewer streams and shorter phases, `rounds`: open-loop rounds. */
export async function runGzipBench({ quick = false, rounds = 1 } = {}) {
  const phases = phasesFor(quick);
  const options = { seconds: quick ? 4 : 8, drainMs: 5_000, clients: 2, client: CLIENT };
  const tables = [];
  const all = [];
  const memory = [];
  for (const compression of ['off', 'gzip']) {
    memory.push(await idleMemoryPerStream(compression, quick ? 2_000 : 5_000));
    console.log(`idle memory after GC, COMPRESSION=${compression}: ${JSON.stringify(memory.at(-1))} (bytes per stream)`);
  }
  const [off, on] = memory;
  tables.push(`Idle streams after a full GC (${on.streams} streams), bytes per stream, off → gzip: heap ${off.heapUsed} → ${on.heapUsed}, ` +
    `external ${off.external} → ${on.external}, RSS ${off.rss} → ${on.rss}; added heap + external ${on.heapUsed + on.external - off.heapUsed - off.external} B`);
  console.log(tables[0]);
  // Alternated, twice, so drift of the host's load falls on both sides.
  const lockstep = [];
  for (const compression of ['off', 'gzip', 'off', 'gzip']) {
    lockstep.push(await lockstepCpuPerFrame(compression, quick ? 1_000 : 2_000, quick ? 100 : 200));
    console.log(`lockstep (one frame per write), COMPRESSION=${compression}: ${lockstep.at(-1).nsPerFrame} ns of server CPU per delivered frame`);
  }
  const mean = (mode) => lockstep.filter((r) => r.compression === mode).reduce((sum, r) => sum + r.nsPerFrame, 0) / 2;
  tables.push(`Server CPU per delivered frame at one frame per write (${lockstep[0].streams} streams × ${lockstep[0].messages} messages in lockstep, ` +
    `runs ${lockstep.map((r) => r.nsPerFrame).join(', ')} ns for off, gzip, off, gzip): off ${mean('off')} ns → gzip ${mean('gzip')} ns ` +
    `(${(mean('gzip') / mean('off')).toFixed(2)}×)`);
  console.log(tables.at(-1));
  for (let round = 1; round <= rounds; round++) {
    const runs = {};
    for (const variant of VARIANTS) {
      // No overload refusals: on a loaded host they would turn some subscribers away in one run and not the other.
      const server = await startRelay({ source: 'memory', compression: variant.compression, env: { OVERLOAD_LAG_MS: '0' } });
      try {
        server.target = { host: '127.0.0.1', port: server.port, path: '/events?topic=bench', gzip: variant.compression };
        runs[variant.name] = await runPhases(server, phases, { ...options, log: log(variant.name) });
      } finally {
        await server.stop();
      }
    }
    const markdown = table(runs, phases);
    console.log(`\nround ${round}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n${markdown}\n`);
    tables.push(markdown);
    all.push(runs);
  }
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('gzip.json', dir), JSON.stringify({ date: new Date().toISOString(), memory, lockstep, phases, options: { ...options, client: 'gzip-load-client.mjs' }, rounds: all }, null, 2) + '\n');
  writeFileSync(new URL('gzip.md', dir), tables.join('\n\n') + '\n');
  console.log('written to bench/results/gzip.{json,md}');
}
