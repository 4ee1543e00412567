// npm run dev:lambda: bundles the Lambda dev server (test/support/lambda/dev-server.ts) with esbuild and runs it
// with plain node, so no jest and no TypeScript loader is needed. The output sits three folders deep, like its source,
// because the dev server finds the repository root relative to itself.
/* global process, URL */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}.esbuild/dev-lambda/bin/dev-server.mjs`;
await build({
  absWorkingDir: root,
  entryPoints: ['test/support/lambda/dev-server.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
process.argv.push(...process.argv.splice(2));
await import(outfile);
