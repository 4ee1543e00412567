import { describe, expect, it } from '@jest/globals';
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { createParser } from 'eventsource-parser';
import { PassThrough } from 'node:stream';
import { FlushPaddingSink } from '../../lib/adapters/flush-padding-sink.js';
import { bufferedHandler, streamingHandler, toRelayRequest, type TargetLoader } from '../../lib/adapters/lambda.js';
import { loadConfig } from '../../lib/config/index.js';
import { ERROR_CODES } from '../../lib/errors.js';
import { silentLogger } from '../../lib/logger.js';
import { createLogger } from '../../functions/logger.js';
import { RelayApp } from '../../lib/http/relay-app.js';
import { MemorySource } from '../../lib/sources/memory.js';
import { RecordingSink } from '../support/recording-sink.js';
import { INVALID_TARGET_PATH } from '../../lib/request.js';

function event(overrides: Partial<LambdaFunctionURLEvent> = {}, method = 'GET'): LambdaFunctionURLEvent {
  return {
    version: '2.0', routeKey: '$default', rawPath: '/events', rawQueryString: 'topic=a&topic=b', headers: { 'last-event-id': 'a=1' },
    requestContext: { http: { method, path: '/events', protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'test' } },
    isBase64Encoded: false, ...overrides,
  } as LambdaFunctionURLEvent;
}

function context(remainingMs: number): Context & { callbackWaitsForEmptyEventLoop: boolean } {
  return { getRemainingTimeInMillis: () => remainingMs, callbackWaitsForEmptyEventLoop: true } as unknown as Context & { callbackWaitsForEmptyEventLoop: boolean };
}

const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('utf8');

describe('toRelayRequest (function-URL event, payload 2.0)', () => {
  it('carries method, path, repeated query values, headers, cookies and the source address', () => {
    const request = toRelayRequest(event({ cookies: ['s=1', 't=2'] }, 'get'), context(60_000), 5_000);
    expect([request.method, request.path, request.query.getAll('topic')]).toEqual(['GET', '/events', ['a', 'b']]);
    expect([request.header('last-event-id'), request.header('cookie'), request.header('x-none')]).toEqual(['a=1', 's=1; t=2', undefined]);
    expect(request.remoteAddress).toBe('203.0.113.9');
  });

  it('sets the deadline to now + remaining time − margin, never taking more than half the remaining time', () => {
    const before = Date.now();
    expect(toRelayRequest(event(), context(60_000), 5_000).deadline).toBeGreaterThanOrEqual(before + 55_000);
    expect(toRelayRequest(event(), context(60_000), 5_000).deadline).toBeLessThanOrEqual(Date.now() + 55_000);
    expect(toRelayRequest(event(), context(4_000), 5_000).deadline).toBeGreaterThanOrEqual(before + 2_000);
  });

  // The same request target reads the same in both runtimes: a path that is not origin-form is the app's 400
  // invalid_request (the container answered 400 for `//x/metrics`, Lambda 404), and dot segments resolve as they do there.
  it.each([
    ['//x/metrics', INVALID_TARGET_PATH],
    ['/\\x/metrics', INVALID_TARGET_PATH],
    ['/events\\..\\metrics', INVALID_TARGET_PATH],
    ['//', INVALID_TARGET_PATH],
    ['events', INVALID_TARGET_PATH],
    ['/./events', '/events'],
    ['/x/../events', '/events'],
    ['/events', '/events'],
  ])('reads the raw path %s as the container does (%s)', (rawPath, path) => {
    expect(toRelayRequest(event({ rawPath }), context(60_000), 5_000).path).toBe(path);
  });

  it('decodes base64 bodies and rejects one past the limit with body_too_large', async () => {
    const request = toRelayRequest(event({ body: Buffer.from('{"x":"é"}').toString('base64'), isBase64Encoded: true }, 'POST'), context(1_000), 0);
    expect(Buffer.from(await request.readBody(100)).toString('utf8')).toBe('{"x":"é"}');
    await expect(request.readBody(5)).rejects.toMatchObject({ code: 'body_too_large' });
    expect((await toRelayRequest(event(), context(1_000), 0).readBody(10)).byteLength).toBe(0);
  });
});

describe('FlushPaddingSink', () => {
  it('follows each corked batch, and each write outside cork, with one comment line of exactly the given size', () => {
    const inner = new RecordingSink();
    const sink = new FlushPaddingSink(inner, 16);
    sink.cork();
    sink.write(Buffer.from('id: 1\ndata: a\n\n'));
    sink.write(Buffer.from('id: 2\ndata: b\n\n'));
    sink.uncork();
    sink.write(Buffer.from(': heartbeat\n\n'));
    const padding = `:${' '.repeat(14)}\n`;
    expect(text(inner.chunks)).toBe(`id: 1\ndata: a\n\nid: 2\ndata: b\n\n${padding}: heartbeat\n\n${padding}`);
    const events: string[] = [];
    const parser = createParser({ onEvent: (e) => events.push(`${e.id}:${e.data}`) });
    parser.feed(text(inner.chunks));
    expect(events).toEqual(['1:a', '2:b']);
    expect(() => new FlushPaddingSink(inner, 1)).toThrow(/at least 2 bytes/);
  });
});

describe('loadConfig on Lambda', () => {
  it('bounds idle streams to 60 s and sessions to 15 min when unset, and keeps what is set', () => {
    expect(loadConfig({ AUTH_MODE: 'none' }, 'lambda').server).toMatchObject({ sessionIdleMs: 60_000, maxSessionMs: 900_000 });
    const set = loadConfig({ AUTH_MODE: 'none', SESSION_IDLE_MS: '0', MAX_SESSION_MS: ' ' }, 'lambda');
    expect(set.server).toMatchObject({ sessionIdleMs: 0, maxSessionMs: 900_000 });
    expect(loadConfig({ AUTH_MODE: 'none' }).server).toMatchObject({ sessionIdleMs: 0, maxSessionMs: 1_800_000 });
  });
});

describe('handlers outside Lambda (local stand-in for the awslambda global)', () => {
  const app = new RelayApp({ config: loadConfig({ AUTH_MODE: 'none' }).server, source: new MemorySource(10), logger: silentLogger });
  const target: TargetLoader = { load: async () => ({ app, logger: silentLogger, deadlineMarginMs: 1_000, flushPaddingBytes: 0 }), logger: silentLogger };

  // The function URL's `cors` block decides which pages may read (serverless.yml; CORS_ORIGINS stays unset there), so
  // the relay's own refusal of unlisted origins (origin_not_allowed) must not turn away the page that block allows.
  it('leaves cross-origin pages to the function URL\'s CORS: an app without its own policy opens their streams', async () => {
    const headers = { origin: 'https://app.example.com', 'sec-fetch-site': 'cross-site' };
    const response = await app.handle(toRelayRequest(event({ rawQueryString: 'topic=pages', headers }), context(10_000), 1_000));
    expect(response.status).toBe(200);
    expect(response.kind).toBe('stream');
  });

  it('streams a body response as prelude + 8 NUL bytes + body, and lets the runtime move on with sockets open', async () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ctx = context(10_000);
    await streamingHandler(target)(event({ rawPath: '/healthz', rawQueryString: '' }), stream, ctx);
    const bytes = Buffer.concat(chunks);
    const at = bytes.indexOf(Buffer.alloc(8));
    expect(JSON.parse(bytes.subarray(0, at).toString('utf8'))).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(bytes.subarray(at + 8).toString('utf8')).toBe('{"status":"ok"}');
    expect(ctx.callbackWaitsForEmptyEventLoop).toBe(false);
  });

  it('settles the source after the response ended and before returning, never longer than settleMs or the time left', async () => {
    const order: string[] = [];
    const settling = (settle: () => Promise<void>, settleMs: number): TargetLoader => ({
      load: async () => ({ app, logger: silentLogger, deadlineMarginMs: 1_000, flushPaddingBytes: 0, settle, settleMs }), logger: silentLogger,
    });
    const stream = new PassThrough().resume();
    const settleAfterEnd = async (): Promise<void> => void order.push(stream.writableEnded ? 'settled after the response ended' : 'settled too early');
    await streamingHandler(settling(settleAfterEnd, 5_000))(event({ rawPath: '/healthz', rawQueryString: '' }), stream, context(10_000));
    expect(order).toEqual(['settled after the response ended']);
    // A source that never answers (say SQS unreachable) holds the sandbox no longer than its bound, nor past the deadline.
    const never = (): Promise<void> => new Promise<void>(() => undefined);
    for (const [settleMs, remainingMs] of [[100, 10_000], [60_000, 700]]) {
      const at = Date.now();
      await streamingHandler(settling(never, settleMs!))(event({ rawPath: '/healthz', rawQueryString: '' }), new PassThrough().resume(), context(remainingMs!));
      expect(Date.now() - at).toBeLessThan(5_000);
    }
  });

  it('answers 500 {"error":"internal"} when the target cannot be built', async () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    await streamingHandler({ load: () => Promise.reject(new Error('no config')), logger: silentLogger })(event(), stream, context(10_000));
    const bytes = Buffer.concat(chunks);
    const at = bytes.indexOf(Buffer.alloc(8));
    expect(JSON.parse(bytes.subarray(0, at).toString('utf8'))).toMatchObject({ statusCode: 500 });
    expect(bytes.subarray(at + 8).toString('utf8')).toBe(JSON.stringify({ error: 'internal', message: ERROR_CODES.internal.message }));
  });

  it('keeps the local stand-in when a library defines a partial awslambda global (the AWS SDK\'s invoke store)', async () => {
    // @aws/lambda-invoke-store, loaded by the SQS and SSM clients, sets globalThis.awslambda = { InvokeStore } outside
    // Lambda too; a handler that took that object for the runtime failed on `HttpResponseStream.from`.
    const global = globalThis as unknown as { awslambda?: unknown };
    const before = global.awslambda;
    global.awslambda = { InvokeStore: {} };
    try {
      const stream = new PassThrough();
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      await streamingHandler(target)(event({ rawPath: '/healthz', rawQueryString: '' }), stream, context(10_000));
      const bytes = Buffer.concat(chunks);
      expect(JSON.parse(bytes.subarray(0, bytes.indexOf(Buffer.alloc(8))).toString('utf8'))).toMatchObject({ statusCode: 200 });
    } finally {
      global.awslambda = before;
    }
  });

  it('answers a buffered publish as a payload-2.0 result, and refuses /events there', async () => {
    const handler = bufferedHandler(target);
    const body = JSON.stringify({ topic: 't', data: 'x' });
    const published = await handler(event({ rawPath: '/publish', rawQueryString: '', headers: { 'content-type': 'application/json' }, body }, 'POST'), context(5_000));
    expect(published).toMatchObject({ statusCode: 202, isBase64Encoded: false });
    expect((published as { body: string }).body).toMatch(/^\{"id":"\d{13}-1"\}$/); // the memory source's start (ms), then 1
    expect(await handler(event(), context(5_000))).toMatchObject({ statusCode: 404, body: '{"error":"not_found","message":"no such route"}' });
  });
});

describe('the error path of both Lambda handlers', () => {
  // An error that carries credentials, as an SDK or HTTP client error may: the logger's redaction must remove them.
  const leaky = (): Error => Object.assign(new Error('upstream refused'), {
    token: 'tok-SECRET-1', authorization: 'Bearer auth-SECRET-2', headers: { authorization: 'hdr-SECRET-3', cookie: 'sid=cookie-SECRET-4' },
  });
  const failing = { handle: () => Promise.reject(leaky()) };

  /** The logger functions/ builds, writing into `lines`. */
  function recordingLogger(lines: string[]): ReturnType<typeof createLogger> {
    return createLogger('info', { write: (line: string) => void lines.push(line) });
  }

  async function run(kind: 'streaming' | 'buffered', loader: TargetLoader): Promise<number> {
    if (kind === 'buffered') return ((await bufferedHandler(loader)(event({ rawPath: '/publish', rawQueryString: '' }, 'POST'), context(5_000))) as { statusCode: number }).statusCode;
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    await streamingHandler(loader)(event(), stream, context(5_000));
    const bytes = Buffer.concat(chunks);
    return (JSON.parse(bytes.subarray(0, bytes.indexOf(Buffer.alloc(8))).toString('utf8')) as { statusCode: number }).statusCode;
  }

  it.each(['streaming', 'buffered'] as const)('%s: logs through the JSON logger with credentials redacted, before and after the target exists, and never to the console', async (kind) => {
    const bootLines: string[] = [];
    const targetLines: string[] = [];
    const consoleLines: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void consoleLines.push(args);
    try {
      const notReady: TargetLoader = { load: () => Promise.reject(leaky()), logger: recordingLogger(bootLines) };
      const ready: TargetLoader = {
        load: async () => ({ app: failing, logger: recordingLogger(targetLines), deadlineMarginMs: 1_000, flushPaddingBytes: 0 }),
        logger: recordingLogger(bootLines),
      };
      expect(await run(kind, notReady)).toBe(500);
      expect(await run(kind, ready)).toBe(500);
    } finally {
      console.error = original;
    }
    expect(consoleLines).toEqual([]);
    expect([bootLines.length, targetLines.length]).toEqual([1, 1]);
    for (const line of [...bootLines, ...targetLines]) {
      const entry = JSON.parse(line) as { msg: string; err: { message: string; token: string } };
      expect(entry.msg).toBe('lambda handler failed');
      expect(entry.err).toMatchObject({ message: 'upstream refused', token: '[redacted]' });
      expect(line).not.toMatch(/SECRET/);
    }
  });
});
