// Runs a TypeScript entry of the benchmark (bench/*.ts, which reuses the test helpers in test/support/) with plain
// node: bundled two folders below the repository root, as deep as its sources, because the helpers find dist/ and
// nginx/ relative to themselves (scripts/bundle-ts.mjs).
/* global process */
import { bundleTs } from '../scripts/bundle-ts.mjs';

/** Bundles `entry` (a path from the repository root) and imports it, with `args` as its process.argv tail. */
export async function runTypeScript(entry, args) {
  const outfile = await bundleTs(entry, '.esbuild/bench');
  process.argv.splice(2, process.argv.length, ...args);
  await import(outfile);
}
