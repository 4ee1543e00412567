import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { EventSource } from 'eventsource';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleEntry, bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction, type LambdaFunctionOptions } from '../support/lambda/run-function.js';
import { SseReader } from '../support/sse-reader.js';

// functions/stream.ts, bundled with serverless.yml's esbuild options, run under aws-lambda-ric behind a function URL.
let taskRoot: string;
const started: LambdaFunction[] = [];
const sources: EventSource[] = [];

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-'));
  await bundleFunctions(taskRoot, ['stream']);
  await bundleEntry('test/fixtures/lambda/faulty-stream.ts', taskRoot);
});

afterEach(async () => {
  for (const source of sources.splice(0)) source.close();
  await Promise.all(started.splice(0).map((fn) => fn.stop()));
});

afterAll(async () => {
  await rm(taskRoot, { recursive: true, force: true });
});

async function start(options: Partial<LambdaFunctionOptions> & { env?: Record<string, string> }): Promise<LambdaFunction> {
  const env = { AUTH_MODE: 'none', ...options.env };
  const fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', maxConcurrency: 1, ...options, env });
  started.push(fn);
  return fn;
}

interface Received { id: string; type: string; data: string }

/** Opens a real EventSource and collects events of `types` until `count` arrived (or `withinMs` passed). */
function collect(url: string, types: string[], count: number, withinMs: number, fn: LambdaFunction): Promise<Received[]> {
  const source = new EventSource(url);
  sources.push(source);
  const received: Received[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.close();
      reject(new Error(`got ${received.length} of ${count} events in ${withinMs} ms: ${JSON.stringify(received)}\n${fn.logs()}`));
    }, withinMs);
    for (const type of types) {
      source.addEventListener(type, (event) => {
        received.push({ id: event.lastEventId, type, data: event.data });
        if (received.length < count) return;
        clearTimeout(timer);
        source.close();
        resolve(received);
      });
    }
  });
}

const demoCount = (event: Received): number => (JSON.parse(event.data) as { count: number }).count;

async function readToEnd(url: string, headers: Record<string, string> = {}): Promise<{ reader: SseReader; ms: number }> {
  const at = Date.now();
  const reader = new SseReader(url, headers);
  await reader.ended;
  return { reader, ms: Date.now() - at };
}

describe('functions/stream.ts under aws-lambda-ric', () => {
  it('streams memory-source events (DEMO) to an EventSource with the SSE headers', async () => {
    const fn = await start({ env: { SOURCE: 'memory', DEMO: 'true' } });
    const head = await fetch(`${fn.url}/healthz`);
    expect(await head.json()).toEqual({ status: 'ok' });
    const events = await collect(`${fn.url}/events?topic=demo`, ['record'], 2, 8_000, fn);
    expect(events.map(demoCount)).toEqual([demoCount(events[0]!), demoCount(events[0]!) + 1]);
    expect(events[0]!.id).toMatch(/^demo=\d{13}-\d+$/); // the sandbox's start (ms), then the sequence number
  });

  it('ends a 5 s invocation with retry: before its deadline, and the client resumes with no gap and no duplicate', async () => {
    const env = { SOURCE: 'memory', DEMO: 'true', LAMBDA_DEADLINE_MARGIN_MS: '1500', RETRY_MS: '100'};
    const fn = await start({ timeoutMs: 5_000, env });
    const { reader } = await readToEnd(`${fn.url}/events?topic=demo`);
    expect(reader.error).toBeUndefined();
    expect(reader.status).toBe(200);
    expect(reader.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    // The first frame and the final jittered one: the invocation ended itself (the harness kills it at the timeout).
    expect(reader.retries.length).toBe(2);
    // Eight demo events a second apart span more than one 5 s invocation.
    const events = await collect(`${fn.url}/events?topic=demo`, ['record'], 8, 20_000, fn);
    const first = demoCount(events[0]!);
    expect(events.map(demoCount)).toEqual(Array.from({ length: 8 }, (_, i) => first + i));
    expect(fn.coldStartsMs()).toHaveLength(1); // never killed at the timeout: every invocation ended itself
  }, 40_000);

  it('ends a stream with no events after SESSION_IDLE_MS (a vanished client cannot hold the invocation)', async () => {
    const fn = await start({ timeoutMs: 30_000, env: { SOURCE: 'memory', SESSION_IDLE_MS: '1000', RETRY_MS: '100' } });
    const { reader, ms } = await readToEnd(`${fn.url}/events?topic=quiet`);
    expect([reader.status, reader.error]).toEqual([200, undefined]);
    expect(reader.retries).toHaveLength(2);
    expect(ms).toBeLessThan(5_000);
  });

  it('ignores COMPRESSION=gzip: a function URL would undo the coding, so the stream leaves uncompressed', async () => {
    const fn = await start({ env: { SOURCE: 'memory', DEMO: 'true', COMPRESSION: 'gzip' } });
    const reader = new SseReader(`${fn.url}/events?topic=demo`, { 'accept-encoding': 'gzip' });
    await reader.until((r) => r.events.length >= 1, 8_000);
    reader.close();
    expect(reader.headers.get('content-encoding')).toBeNull();
    expect(reader.headers.get('vary')).not.toMatch(/accept-encoding/i);
  });

  it('pads each batch with a comment line of FLUSH_PADDING_BYTES that EventSource ignores', async () => {
    const env = { SOURCE: 'memory', DEMO: 'true', FLUSH_PADDING_BYTES: '512', LAMBDA_DEADLINE_MARGIN_MS: '2000'};
    const fn = await start({ timeoutMs: 4_500, env });
    const { reader } = await readToEnd(`${fn.url}/events?topic=demo`);
    expect(reader.events.length).toBeGreaterThan(0);
    const paddings = reader.comments.filter((c) => /^ *$/.test(c) && c.length >= 509);
    expect(paddings.length).toBeGreaterThan(reader.events.length);
  });

  it('answers 500 {"error":"internal"} when the function fails before its first write (a configuration error)', async () => {
    const fn = await start({ env: { SOURCE: 'redis' } }); // REDIS_URL missing
    const response = await fetch(`${fn.url}/events?topic=a`);
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toMatchObject({ error: 'internal' });
    expect(fn.logs()).toContain('REDIS_URL');
  });

  it('answers 500 {"error":"internal"} when handling throws before the first write', async () => {
    const fn = await start({ handler: 'test/fixtures/lambda/faulty-stream.throwBeforeWrite' });
    const response = await fetch(`${fn.url}/events?topic=a`);
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: 'internal' });
    expect(fn.logs()).toContain('injected failure before the first write');
  });

  it('ends the stream when the function fails after its first write, and the client resumes', async () => {
    const fn = await start({ handler: 'test/fixtures/lambda/faulty-stream.throwAfterWrite' });
    const events = await collect(`${fn.url}/events`, ['message'], 3, 10_000, fn);
    expect(events.map((e) => [e.id, e.data])).toEqual([['1', 'event 1'], ['2', 'event 2'], ['3', 'event 3']]);
    expect(fn.logs()).toContain('injected failure after event 2');
    expect(fn.coldStartsMs()).toHaveLength(1);
  });
});
