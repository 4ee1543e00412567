// Preloaded into a server under `npm run bench -- --idle` (node --expose-gc --import bench/gc-probe.mjs ...): on
// SIGUSR2 it collects garbage twice and writes the process's memory to $BENCH_GC_FILE, so the bench reads memory per
// stream after GC, not whatever garbage the last connections left. It does nothing else.
/* global process */
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.BENCH_GC_FILE;
if (file !== undefined && typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    globalThis.gc();
    globalThis.gc();
    const usage = process.memoryUsage();
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
    writeFileSync(file, JSON.stringify({ ...usage, rss: rssKb * 1024, at: Date.now() }));
  });
}
