// node scripts/sqs-queue-layouts.mjs [--sandboxes N] [--rounds N]
// Lambda queue mode (source=sqs) with N browsers of N topics, each stream in a sandbox of its own under aws-lambda-ric
// against the SQS emulator: messages delivered and dead-lettered with one shared queue and with one queue per topic
// (test/support/lambda/queue-layouts.ts; docs/lambda.md, "Queue mode"). The test runs 6 × 8; this prints larger counts.
import { parseArgs } from 'node:util';
import { bundleTs } from './bundle-ts.mjs';

const { values } = parseArgs({ options: { sandboxes: { type: 'string', default: '20' }, rounds: { type: 'string', default: '10' } } });
const sandboxes = Number(values.sandboxes);
const rounds = Number(values.rounds);
if (!Number.isInteger(sandboxes) || sandboxes < 2 || sandboxes > 60) throw new Error(`--sandboxes must be a whole number from 2 to 60; got ${values.sandboxes}`);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number ≥ 1; got ${values.rounds}`);
const outfile = await bundleTs('test/support/lambda/queue-layouts.ts', '.esbuild/queue-layouts/bin');
const { measureQueueLayouts } = await import(outfile);
await measureQueueLayouts(sandboxes, rounds);
