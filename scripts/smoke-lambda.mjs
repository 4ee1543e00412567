// npm run smoke:lambda -- <stream-url> <publish-url> [--topic T] [--heartbeat-wait-ms N] [--prompt-ms N] [--json]
// Against a deployed stack (or the local function-URL harness): opens a stream, publishes small events and measures
// publish → receive latency of each, watches heartbeats arrive, and, if small writes are held, probes which event size
// goes through at once and prints the FLUSH_PADDING_BYTES that fixes it. Token (if auth is on): SSE_RELAY_TOKEN, a JWT
// allowed to subscribe and publish on topics smoke-* (or on --topic). A queue-mode stack (source=sqs) serves only topics
// with a queue: pass --topic, naming one that no browser reads (its messages go to this tool, not to them).
/* global process, fetch, console, performance, setTimeout */
import { randomUUID } from 'node:crypto';
import { checkUrls, InputError, numberOption, refusal, tokenHeaders, unreachable } from './smoke/inputs.mjs';
import { advise, PROBE_SIZES } from './smoke/padding-advice.mjs';
import { WatchedStream } from './smoke/watched-stream.mjs';

// lib/sse/topics.ts
const TOPIC = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const FLUSHER_BYTES = 60_000;

function parseArgs(argv) {
  const positional = [];
  const options = { heartbeatWaitMs: 35_000, promptMs: 1_000, json: false, topic: `smoke-${randomUUID().slice(0, 8)}` };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--heartbeat-wait-ms') options.heartbeatWaitMs = numberOption(arg, argv[++i]);
    else if (arg === '--prompt-ms') options.promptMs = numberOption(arg, argv[++i]);
    else if (arg === '--topic') options.topic = String(argv[++i] ?? '');
    else if (arg.startsWith('--')) throw new InputError(`unknown option ${arg}`, { usage: true });
    else positional.push(arg);
  }
  const [streamUrl, publishUrl] = checkUrls(positional);
  if (!TOPIC.test(options.topic)) throw new InputError(`--topic must match ${TOPIC.source}; got ${JSON.stringify(options.topic)}`, { usage: true });
  return { streamUrl, publishUrl, ...options };
}

async function publish(publishUrl, headers, topic, data) {
  const url = `${publishUrl}/publish`;
  const response = await fetch(url, {
    method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ topic, event: 'smoke-probe', data }),
  }).catch((error) => {
    throw unreachable(url, error);
  });
  if (response.status !== 202) throw new Error(refusal(`POST ${url}`, response.status, await response.text(), { hasToken: 'authorization' in headers, topic }));
}

/** Publishes `data` and waits for it: publish → receive latency, ms, or null if it did not come within `waitMs`. */
async function roundTrip(ctx, data, waitMs) {
  const sentAt = performance.now();
  await publish(ctx.publishUrl, ctx.headers, ctx.topic, data);
  const arrived = await ctx.stream.until(() => ctx.stream.events.some((e) => e.data === data), waitMs);
  return arrived ? Math.round(ctx.stream.events.find((e) => e.data === data).at - sentAt) : null;
}

async function smallEvents(ctx, count) {
  // Not counted: the first publish may wake a cold publish function, which says nothing about the stream URL.
  await roundTrip(ctx, `warm-up ${randomUUID()}`, ctx.promptMs * 2);
  const latencies = [];
  for (let i = 0; i < count; i += 1) latencies.push(await roundTrip(ctx, `small ${i} ${randomUUID()}`, ctx.promptMs * 2));
  return latencies;
}

async function heartbeatGaps(ctx) {
  if (ctx.heartbeatWaitMs === 0) return [];
  const before = ctx.stream.heartbeats.length;
  await new Promise((resolve) => setTimeout(resolve, ctx.heartbeatWaitMs));
  const seen = ctx.stream.heartbeats.slice(Math.max(0, before - 1));
  return seen.slice(1).map((at, i) => Math.round(at - seen[i]));
}

/** Each size alone: a large event first pushes out whatever is held, so a probe never rides on earlier bytes. */
async function probes(ctx) {
  const results = [];
  for (const bytes of PROBE_SIZES) {
    await roundTrip(ctx, `flush ${randomUUID()} `.padEnd(FLUSHER_BYTES, 'f'), ctx.promptMs * 4);
    const latencyMs = await roundTrip(ctx, `probe ${randomUUID()} `.padEnd(bytes, 'p'), ctx.promptMs * 1.5);
    results.push({ bytes, latencyMs });
    if (latencyMs !== null && latencyMs <= ctx.promptMs) break;
  }
  return results;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const headers = tokenHeaders(process.env.SSE_RELAY_TOKEN);
  const topic = args.topic;
  const explain = (what, status, body) => refusal(what, status, body, { hasToken: 'authorization' in headers, topic });
  // Acknowledged through the publish function, as docs/lambda.md recommends: an acknowledgement sent to the stream
  // function needs an execution the streams may all hold.
  const stream = new WatchedStream(`${args.streamUrl}/events?topic=${topic}`, headers, { explain, unreachable }, `${args.publishUrl}/ack`);
  await stream.open();
  const ctx = { ...args, headers, topic, stream };
  try {
    const latenciesMs = await smallEvents(ctx, 3);
    const heartbeatGapsMs = await heartbeatGaps(ctx);
    const measured = { latenciesMs, promptMs: args.promptMs, heartbeatGapsMs, heartbeatsExpected: args.heartbeatWaitMs > 0, probes: [] };
    const first = advise(measured);
    const advice = first.held ? advise({ ...measured, probes: await probes(ctx) }) : first;
    report({ topic, latenciesMs, heartbeatGapsMs, reconnects: stream.reconnects, acknowledgementsFailed: stream.ackFailures, ...advice }, args.json);
  } finally {
    stream.close();
  }
}

function report(result, json) {
  console.log(`topic ${result.topic}: publish → receive of small events, ms: ${result.latenciesMs.map((ms) => ms ?? 'never').join(', ')}`);
  console.log(`heartbeat gaps, ms: ${result.heartbeatGapsMs.join(', ') || 'none seen'}; stream reconnects: ${result.reconnects}`);
  // A queue source that refuses acknowledgements stops after QUEUE_PREFETCH events: later probes then look held.
  if (result.acknowledgementsFailed > 0) console.log(`${result.acknowledgementsFailed} POST /ack failed: the figures below may be wrong (check the token may subscribe to ${result.topic})`);
  for (const line of result.lines) console.log(line);
  if (json) console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.error(`smoke:lambda: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
