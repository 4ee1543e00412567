import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { epochOf, publish, startRelay } from '../support/relay-server.js';

// The same messages, published to the container and to the Lambda path, must come out as the same bytes, but for the
// memory source's epoch in each id: each process (a sandbox, a container) names its positions after its own start.
const ENV = { AUTH_MODE: 'none', SOURCE: 'memory', RETRY_MS: '1500', LOG_LEVEL: 'warn' };
const MESSAGES = [
  { topic: 'orders', data: '{"n":1}' },
  { topic: 'orders', data: 'line one\r\nline two\rline three\nline four', event: 'multi-line' },
  { topic: 'orders', data: ' leading space, ünïcödé ✓, emoji 🚀', event: 'order.updated', id: 'key-3' },
];

let taskRoot: string;
let fn: LambdaFunction;
let container: Awaited<ReturnType<typeof startRelay>>;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-frames-'));
  await bundleFunctions(taskRoot, ['stream']);
  fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env: ENV, maxConcurrency: 1 });
  container = await startRelay(ENV);
});

afterAll(async () => {
  await fn?.stop();
  await container?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

/** The first `frames` SSE frames (each ending in a blank line) of a stream, as raw bytes. */
async function firstFrames(url: string, frames: number): Promise<Buffer> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { 'last-event-id': 'orders=0' }, signal: controller.signal });
  expect(response.status).toBe(200);
  let bytes = Buffer.alloc(0);
  const ends = (): number => bytes.toString('utf8').split('\n\n').length - 1;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    bytes = Buffer.concat([bytes, chunk]);
    if (ends() >= frames) break;
  }
  controller.abort();
  const text = bytes.toString('utf8');
  let at = 0;
  for (let i = 0; i < frames; i += 1) at = text.indexOf('\n\n', at) + 2;
  return Buffer.from(text.slice(0, at), 'utf8');
}

describe('Lambda path and container', () => {
  it('write byte-identical frames for the same messages', async () => {
    const epochs = { container: '', lambda: '' };
    for (const message of MESSAGES) {
      const inContainer = await publish(container.url, message);
      expect(inContainer.status).toBe(202);
      epochs.container = epochOf(inContainer.json['id']);
      // Through the streaming function URL itself: its sandbox's memory source is the one that streams next.
      const inLambda = await publish(fn.url, message);
      expect(inLambda.status).toBe(202);
      epochs.lambda = epochOf(inLambda.json['id']);
    }
    const fromContainer = await firstFrames(`${container.url}/events?topic=orders`, 1 + MESSAGES.length);
    const fromLambda = await firstFrames(`${fn.url}/events?topic=orders`, 1 + MESSAGES.length);
    // Each epoch (13 digits, so the lengths agree) in exactly the three ids, and the bytes otherwise the same.
    const ids = (frames: Buffer): string[] => [...frames.toString('utf8').matchAll(/^id: (.*)$/gm)].map((m) => m[1] ?? '');
    expect(ids(fromContainer)).toEqual([1, 2, 3].map((n) => `orders=${epochs.container}-${n}`));
    expect(ids(fromLambda)).toEqual([1, 2, 3].map((n) => `orders=${epochs.lambda}-${n}`));
    // Each process has its own epoch, and each stream its own jittered first retry: the rest is byte for byte the same.
    const firstRetry = (frames: Buffer): string => /^retry: \d+\n\n/.exec(frames.toString('utf8'))?.[0] ?? '';
    const sameEpoch = Buffer.from(fromLambda.toString('utf8').replaceAll(`orders=${epochs.lambda}-`, `orders=${epochs.container}-`).replace(firstRetry(fromLambda), firstRetry(fromContainer)), 'utf8');
    expect(sameEpoch.toString('utf8')).toBe(fromContainer.toString('utf8'));
    expect(sameEpoch.equals(fromContainer)).toBe(true);
    expect(fromContainer.toString('utf8')).toContain(`id: orders=${epochs.container}-3\nevent: order.updated\ndata:  leading space`);
  });
});
