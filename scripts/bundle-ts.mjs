// Bundles one TypeScript entry of the repository with esbuild so plain node can run it: no jest, no TypeScript loader.
// The caller picks the output folder as deep as the entry's sources (.esbuild/bench for bench/*.ts, .esbuild/<name>/bin
// for test/support/lambda/*.ts), because the bundled helpers find the repository root relative to themselves.
/* global URL */
import { build } from 'esbuild';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bundles `entry` into `outdir` (both paths from the repository root); returns the path of the .mjs written. */
export async function bundleTs(entry, outdir) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const outfile = `${root}${outdir}/${basename(entry, '.ts')}.mjs`;
  await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  return outfile;
}
