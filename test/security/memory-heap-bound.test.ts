import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';

// MEMORY_MAX_BYTES is what an operator sizes a pod by, so the memory source's count of a message and of a topic must
// not be smaller than what they really take. Measured in a child process with --expose-gc (a collected heap before and
// after), the memory source alone, bundled from its TypeScript source.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BOUND = 16 * 1_048_576;
// Heap measurement moves by a few percent from run to run (hash-table growth, GC timing). The counts first used (160 a
// message, 512 a topic) and a ring's array sized by its first position came to 1.5–2 times the bound.
const TOLERANCE = 1.15;

async function heapGrowth(topicOf: string, count: number, dataBytes: number): Promise<number> {
  const outfile = `${ROOT}.esbuild/memory-heap/memory.mjs`;
  await build({ absWorkingDir: ROOT, entryPoints: ['lib/sources/memory.ts'], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' });
  const script = `
    import { MemorySource } from ${JSON.stringify(outfile)};
    const source = new MemorySource(1000, ${BOUND});
    globalThis.keep = source; // held to the end, or the collector may take it before the second measurement
    const topicOf = (i) => ${topicOf};
    // A flat string, as JSON.parse makes for a published body (padEnd makes a rope, which takes more heap).
    const flat = (text) => Buffer.from(text, 'latin1').toString('latin1');
    gc(); const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < ${count}; i++) await source.publish(topicOf(i), { data: flat(String(i).padEnd(${dataBytes}, 'x').slice(0, ${dataBytes})) });
    gc(); console.log(process.memoryUsage().heapUsed - before);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { timeout: 60_000 });
  return Number(stdout.trim());
}

describe('MemorySource heap against MEMORY_MAX_BYTES', () => {
  it.each([
    ['a new topic per message (10-byte messages)', '`t${i}`', 300_000, 10],
    ['200 topics taking turns (10-byte messages)', '`t${i % 200}`', 300_000, 10],
    ['a new topic per message (100-byte messages)', '`t${i}`', 300_000, 100],
  ])('%s stays within the bound', async (_name, topicOf, count, dataBytes) => {
    const growth = await heapGrowth(topicOf, count, dataBytes);
    expect(growth / BOUND).toBeLessThan(TOLERANCE);
  }, 90_000);
});
