// Runs a TypeScript entry of the benchmark (bench/*.ts, which reuses the test helpers in test/support/) with plain
// node: esbuild bundles it two folders below the repository root, as deep as its sources, because the helpers find
// dist/ and nginx/ relative to themselves. The same approach as scripts/dev-lambda.mjs.
/* global process, URL */
import { build } from 'esbuild';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Bundles `entry` (a path from the repository root) and imports it, with `args` as its process.argv tail. */
export async function runTypeScript(entry, args) {
  const outfile = `${root}.esbuild/bench/${basename(entry, '.ts')}.mjs`;
  await build({
    absWorkingDir: root, entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20',
    packages: 'external', logLevel: 'warning',
  });
  process.argv.splice(2, process.argv.length, ...args);
  await import(outfile);
}
