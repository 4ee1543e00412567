// npm run dev:lambda: bundles the Lambda dev server (test/support/lambda/dev-server.ts) with esbuild and runs it
// with plain node, so no jest and no TypeScript loader is needed.
/* global process */
import { bundleTs } from './bundle-ts.mjs';

const outfile = await bundleTs('test/support/lambda/dev-server.ts', '.esbuild/dev-lambda/bin');
process.argv.push(...process.argv.splice(2));
await import(outfile);
