import { describe, expect, it } from '@jest/globals';
import { JsonLogger, type LogLevel } from '../../lib/logger.js';
import { fieldsJson } from '../../lib/log-fields.js';

function recording(level: LogLevel = 'debug', context?: () => object): { logger: JsonLogger; lines: string[]; records: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = new JsonLogger({ level, destination: { write: (line: string) => lines.push(line) }, ...(context ? { context } : {}) }, fieldsJson({ service: 'sse-relay' }));
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('JsonLogger', () => {
  it("writes one JSON object per line in pino's layout: level, time, bound fields, context, fields, msg", () => {
    const { logger, lines } = recording('info', () => ({ awsRequestId: 'req-1' }));
    const before = Date.now();
    logger.child({ worker: 2 }).info({ topic: 'orders', status: 200 }, 'stream opened');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\{"level":30,"time":\d+,"service":"sse-relay","worker":2,"awsRequestId":"req-1","topic":"orders","status":200,"msg":"stream opened"\}\n$/);
    expect(Number(/"time":(\d+)/.exec(lines[0]!)?.[1])).toBeGreaterThanOrEqual(before);
  });

  it('writes only what is at or above its level, and nothing when silent', () => {
    const { logger, records } = recording('warn');
    logger.debug({}, 'd');
    logger.info({}, 'i');
    logger.warn({}, 'w');
    logger.error({}, 'e');
    expect(records().map((r) => [r['level'], r['msg']])).toEqual([[40, 'w'], [50, 'e']]);
    const silent = recording('silent');
    silent.logger.error({}, 'e');
    expect(silent.lines).toEqual([]);
  });

  it('refuses a level it does not know, naming the ones it does', () => {
    expect(() => recording('verbose' as LogLevel)).toThrow('log level "verbose" is not one of trace, debug, info, warn, error, fatal, silent');
  });

  it('keeps a message or a field with line breaks on one line', () => {
    const { logger, lines, records } = recording();
    logger.info({ path: '/events\r\n{"level":60}' }, 'two\nlines\u2028');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.indexOf('\n')).toBe(lines[0]!.length - 1);
    expect(records()[0]).toMatchObject({ path: '/events\r\n{"level":60}', msg: 'two\nlines\u2028' });
  });

  it('never throws: a context that fails is reported in the line instead', () => {
    const { logger, records } = recording('info', () => { throw new Error('no invocation'); });
    expect(() => logger.info({ a: 1 }, 'still written')).not.toThrow();
    expect(records()[0]).toMatchObject({ logError: 'no invocation', msg: 'still written' });
  });
});

describe('fieldsJson', () => {
  const parse = (fields: object): Record<string, unknown> => JSON.parse(`{${fieldsJson(fields).slice(1)}}`) as Record<string, unknown>;

  it('redacts credentials at any depth and in any case, and a top-level payload', () => {
    const fields = {
      token: 't1', Authorization: 'Bearer t2', data: 't9', topic: 'orders',
      err: { request: { headers: { authorization: 't3', Cookie: 'sid=t4', 'set-cookie': ['t5'] } }, access_token: 't6' },
      nested: { data: 'kept: only a top-level data is a payload', password: 't7', refresh_token: 't8' },
    };
    const json = fieldsJson(fields);
    for (const secret of ['t1', 't2', 't9', 't3', 't4', 't5', 't6', 't7', 't8']) expect(json).not.toMatch(new RegExp(`\\b${secret}\\b`));
    expect(parse(fields)).toMatchObject({ token: '[redacted]', Authorization: '[redacted]', data: '[redacted]', topic: 'orders', nested: { data: 'kept: only a top-level data is a payload', password: '[redacted]' } });
  });

  it('writes an error with its type, message, stack, cause and own fields, redacted', () => {
    class UpstreamError extends Error {}
    const cause = Object.assign(new TypeError('socket hang up'), { code: 'ECONNRESET' });
    const error = Object.assign(new UpstreamError('upstream refused', { cause }), { statusCode: 503, headers: { authorization: 'Bearer secret' } });
    const written = parse({ err: error })['err'] as Record<string, unknown>;
    expect(written).toMatchObject({ type: 'UpstreamError', message: 'upstream refused', statusCode: 503, headers: { authorization: '[redacted]' } });
    expect(written['stack']).toContain('upstream refused');
    expect(written['cause']).toMatchObject({ type: 'TypeError', message: 'socket hang up', code: 'ECONNRESET' });
    expect(parse({ err: new AggregateError([new Error('a'), new Error('b')], 'both failed') })['err']).toMatchObject({ type: 'AggregateError', errors: [{ message: 'a' }, { message: 'b' }] });
  });

  it('writes what JSON.stringify cannot: cycles, BigInts, throwing getters, deep nesting, buffers', () => {
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle['self'] = cycle;
    const hostile = Object.defineProperty({}, 'boom', { enumerable: true, get: () => { throw new Error('getter failed'); } });
    const deep = { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } };
    expect(parse({ cycle, big: 12n, hostile, deep, buf: Buffer.alloc(4096), when: new Date(0), fn: () => 1, list: [1, undefined, 'x'] })).toEqual({
      cycle: { name: 'loop', self: '[Circular]' }, big: '12', hostile: { boom: '[unreadable: getter failed]' },
      deep: { a: { b: { c: { d: { e: { f: '[Object]' } } } } } }, buf: '[Buffer 4096 bytes]', when: '1970-01-01T00:00:00.000Z', list: [1, null, 'x'],
    });
  });

  it('writes the same object twice when it is shared, not as a cycle', () => {
    const shared = { id: 1 };
    expect(parse({ a: shared, b: [shared, shared] })).toEqual({ a: { id: 1 }, b: [{ id: 1 }, { id: 1 }] });
  });

  it('is empty for no fields', () => {
    expect(fieldsJson({})).toBe('');
  });
});
