// node scripts/cold-start.mjs [--runs N] [--before <checkout>]  (also `npm run bench -- --cold-start`)
// Bundle sizes per Lambda function and cold starts of the stream function under aws-lambda-ric, beside an empty
// handler, for SOURCE=memory, redis and sqs (test/support/lambda/measure-cold-start.ts, docs/lambda.md "Cold start").
// --before <dir>: also the stream function of another checkout (e.g. `git archive main | tar -x -C /tmp/before`, with
// node_modules linked), measured in the same interleaved rounds. Like dev-lambda.mjs, it bundles the TypeScript
// measurement with esbuild (scripts/bundle-ts.mjs) and runs it with plain node.
import { parseArgs } from 'node:util';
import { bundleTs } from './bundle-ts.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '9' }, before: { type: 'string' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number ≥ 1; got ${values.runs}`);
const outfile = await bundleTs('test/support/lambda/measure-cold-start.ts', '.esbuild/cold-start/bin');
const { measureColdStarts } = await import(outfile);
await measureColdStarts(runs, values.before);
