import { afterEach, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { startLambdaFunction, type LambdaFunction, type LambdaFunctionOptions } from '../support/lambda/run-function.js';

const taskRoot = fileURLToPath(new URL('../fixtures/lambda/', import.meta.url));
const started: LambdaFunction[] = [];

async function start(handler: string, options: Partial<LambdaFunctionOptions> = {}): Promise<LambdaFunction> {
  const fn = await startLambdaFunction({ taskRoot, handler: `handlers.${handler}`, ...options });
  started.push(fn);
  return fn;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((fn) => fn.stop()));
});

/** Reads a response body chunk by chunk, stamping each complete SSE event with its arrival time. */
async function readEvents(response: Response): Promise<{ events: { text: string; at: number }[]; error: unknown }> {
  const events: { text: string; at: number }[] = [];
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { events, error: undefined };
      pending += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = pending.indexOf('\n\n')) >= 0) {
        events.push({ text: pending.slice(0, end), at: Date.now() });
        pending = pending.slice(end + 2);
      }
    }
  } catch (error) {
    return { events, error };
  }
}

describe('Lambda harness: aws-lambda-ric behind a local Runtime API and function URL', () => {
  it('streams each chunk to the client before the handler writes the next one', async () => {
    const spawnAt = Date.now();
    const fn = await start('streamThree');
    const response = await fetch(`${fn.url}/events?topic=a`);
    const coldStartMs = Date.now() - spawnAt;
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const { events, error } = await readEvents(response);
    expect(error).toBeUndefined();
    const written = events.map((e) => JSON.parse(e.text.replace(/^data: /, '')) as { i: number; writtenAt: number; path: string });
    expect(written.map((w) => w.i)).toEqual([0, 1, 2]);
    expect(written[0]?.path).toBe('/events');
    for (let i = 0; i + 1 < events.length; i += 1) {
      // Arrived before the next one was even written: nothing in between buffers the body.
      expect(events[i]!.at).toBeLessThanOrEqual(written[i + 1]!.writtenAt);
    }
    console.log(`cold start (spawn → response headers): ${coldStartMs} ms; module loaded after ${fn.coldStartsMs()[0]} ms`);
  });

  it('answers 502 when a streaming handler throws before writing, and keeps serving', async () => {
    const fn = await start('throwEarly');
    const response = await fetch(fn.url);
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ Message: 'Internal Server Error' });
    const invocation = await fn.invoke({});
    const end = await invocation.done;
    expect(end.error).toMatchObject({ errorType: 'Error', errorMessage: 'boom before the first write', source: 'trailer' });
    expect(fn.coldStartsMs()).toHaveLength(1);
  });

  it('cuts the connection when a streaming handler throws after its first write', async () => {
    const fn = await start('throwMidStream');
    const response = await fetch(fn.url);
    expect(response.status).toBe(200);
    const { events, error } = await readEvents(response);
    expect(events.map((e) => e.text)).toEqual(['data: first']);
    expect(String(error)).toMatch(/terminated/); // undici: the server cut the connection
    const invocation = await fn.invoke({});
    const direct = await invocation.response;
    if (direct.kind !== 'stream') throw new Error(`expected a stream, got ${direct.kind}`);
    direct.body.resume();
    const end = await invocation.done;
    expect(end.error).toMatchObject({ errorType: 'Error', errorMessage: 'boom mid-stream', source: 'trailer' });
  });

  it('kills the sandbox at the function timeout and starts a fresh one for the next request', async () => {
    const fn = await start('hang', { timeoutMs: 800 });
    const response = await fetch(fn.url);
    const { events, error } = await readEvents(response);
    const remainingMs = Number(/remaining (\d+)/.exec(events[0]?.text ?? '')?.[1]);
    expect(remainingMs).toBeGreaterThan(0);
    expect(remainingMs).toBeLessThanOrEqual(800);
    expect(String(error)).toMatch(/terminated/); // undici: the server cut the connection
    const invocation = await fn.invoke({}, { timeoutMs: 300 });
    expect((await invocation.done).error?.errorType).toBe('Sandbox.Timedout');
    expect(fn.coldStartsMs()).toHaveLength(2);
  });

  it('returns a buffered handler result built from a payload-2.0 event', async () => {
    const fn = await start('buffered', { mode: 'buffered', env: { FIXTURE_VAR: 'x' }, timeoutMs: 5000 });
    const response = await fetch(`${fn.url}/publish?a=1&a=2&b=`, {
      method: 'POST',
      headers: { accept: 'application/json', cookie: 'c=1; d=2', 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 't' }),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('set-cookie')).toBe('a=1');
    const echoed = await response.json() as Record<string, unknown>;
    expect(echoed).toMatchObject({
      version: '2.0', method: 'POST', rawPath: '/publish', rawQueryString: 'a=1&a=2&b=',
      query: { a: '1,2', b: '' }, cookies: ['c=1', 'd=2'], accept: 'application/json',
      body: '{"topic":"t"}', isBase64Encoded: false, functionName: 'sse-relay-test', region: 'us-east-1', custom: 'x',
    });
    expect(echoed['remainingMs']).toBeGreaterThan(3000);
    const binary = await fetch(`${fn.url}/bin`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array([0, 255]) });
    expect(await binary.json()).toMatchObject({ body: 'AP8=', isBase64Encoded: true });
  });
});
