import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { AdmissionGate } from '../../lib/limits/admission-gate.js';
import { loadConfig } from '../../lib/config/index.js';
import { ERROR_CODES } from '../../lib/errors.js';
import { comparePositions } from '../../lib/sse/cursor.js';
import { closesDue, drainWindowMs } from '../../lib/engine/drain-pace.js';
import type { RelayRequest, StreamResponse } from '../../lib/request.js';
import { Hub } from '../../lib/engine/hub.js';
import { RecentBudget, RecentMessages } from '../../lib/engine/recent-messages.js';
import { TopicFanout } from '../../lib/engine/topic-fanout.js';
import { silentLogger } from '../../lib/logger.js';
import { Metrics } from '../../lib/metrics.js';
import { RelayApp } from '../../lib/http/relay-app.js';
import { runSession, type SessionContext } from '../../lib/engine/session.js';
import type { LiveFeed, LiveListener } from '../../lib/source.js';
import { MemorySource } from '../../lib/sources/memory.js';
import { RecordingSink } from '../support/recording-sink.js';

/** A memory source whose live feed can fall behind the stored messages, as one pod's Redis reader may lag another's. */
class LaggingSource extends MemorySource {
  lagging = false;
  /** Topics whose feed lags while `lagging` is false (one topic of a subscription behind, the others live). */
  readonly laggingTopics = new Set<string>();
  private readonly late: (() => void)[] = [];

  override openFeed(listener: LiveListener): LiveFeed {
    return super.openFeed((message) =>
      this.lagging || this.laggingTopics.has(message.topic) ? this.late.push(() => listener(message)) : listener(message));
  }

  catchUp(): void {
    this.lagging = false;
    this.laggingTopics.clear();
    for (const deliver of this.late.splice(0)) deliver();
  }
}

/** A memory source whose head() of chosen topics waits until released, as a Redis round trip does. */
class SlowHeadSource extends MemorySource {
  readonly slow = new Set<string>();
  private readonly waiting: (() => void)[] = [];

  override async head(topic: string): Promise<string> {
    if (this.slow.has(topic)) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return super.head(topic);
  }

  answer(): void {
    this.slow.clear();
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

const OPTIONS = { heartbeatMs: 15_000, retryMs: 2_000, connectionBufferBytes: 65_536, sessionIdleMs: 0 };

describe('drain pace', () => {
  it('lasts the larger of the minimum window and connections ÷ rate', () => {
    expect(drainWindowMs(100, { minimumMs: 5_000, ratePerSecond: 500 })).toBe(5_000);
    expect(drainWindowMs(10_000, { minimumMs: 5_000, ratePerSecond: 500 })).toBe(20_000);
    expect(drainWindowMs(0, { minimumMs: 0, ratePerSecond: 500 })).toBe(0);
  });

  it('schedules closes evenly and catches up after a late timer', () => {
    expect(closesDue(1_000, 0, 2_000)).toBe(0);
    expect(closesDue(1_000, 500, 2_000)).toBe(250);
    expect(closesDue(1_000, 1_999, 2_000)).toBe(999);
    expect(closesDue(1_000, 5_000, 2_000)).toBe(1_000);
  });

  describe('Hub.drain', () => {
    beforeEach(() => void jest.useFakeTimers());
    afterEach(() => void jest.useRealTimers());

    it('closes streams no faster than the drain rate, each with a jittered retry, over max(minimum, n ÷ rate)', async () => {
      const source = new MemorySource(10);
      const metrics = new Metrics();
      const fanout = new TopicFanout(source, metrics, silentLogger);
      const hub = new Hub(OPTIONS, metrics, silentLogger, fanout);
      const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
      const sinks = Array.from({ length: 200 }, () => new RecordingSink());
      for (const sink of sinks) void runSession(context, source, { topics: ['t'], cursor: new Map(), endsAt: Date.now() + 3_600_000, endReason: 'max-session' }, sink);
      await jest.advanceTimersByTimeAsync(1);
      expect(hub.connections.size).toBe(200);
      // 200 streams at 100/s: 2 s, longer than the 500 ms minimum.
      const drained = hub.drain({ minimumMs: 500, ratePerSecond: 100 });
      const closedAt: number[] = [];
      for (let t = 0; t < 2_100; t += 100) {
        closedAt.push(sinks.filter((s) => s.ended).length);
        await jest.advanceTimersByTimeAsync(100);
      }
      await drained;
      expect(sinks.every((s) => s.ended)).toBe(true);
      // Never more than rate × elapsed (+ one 20 ms step): no burst.
      closedAt.forEach((closed, i) => expect(closed).toBeLessThanOrEqual(100 * (i * 0.1 + 0.02) + 1));
      expect(closedAt[10]).toBeGreaterThanOrEqual(90); // and on schedule: about half after 1 s
      const retries = sinks.map((s) => Number(/retry: (\d+)\n\n$/.exec(s.text)?.[1]));
      for (const retry of retries) expect(retry).toBeGreaterThanOrEqual(1_000);
      for (const retry of retries) expect(retry).toBeLessThan(3_000);
      expect(new Set(retries).size).toBeGreaterThan(50); // jittered, not one value
      await hub.close();
    });
  });
});

describe('resume served by the hub', () => {
  beforeEach(() => void jest.useFakeTimers());
  afterEach(() => void jest.useRealTimers());

  it('replays a short absence from the messages the hub holds, with no source read, exactly once in order', async () => {
    const source = new MemorySource(1_000, Number.POSITIVE_INFINITY, 7);
    const metrics = new Metrics();
    const fanout = new TopicFanout(source, metrics, silentLogger);
    const hub = new Hub(OPTIONS, metrics, silentLogger, fanout);
    const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
    const plan = (cursor: [string, string][]) => ({ topics: ['t'], cursor: new Map(cursor), endsAt: Date.now() + 3_600_000, endReason: 'max-session' as const });
    const first = new RecordingSink();
    void runSession(context, source, plan([]), first);
    await jest.advanceTimersByTimeAsync(1);
    for (let i = 1; i <= 5; i++) await source.publish('t', { data: String(i) });
    const replay = jest.spyOn(source, 'replay');
    const back = new RecordingSink();
    void runSession(context, source, plan([['t', '7-2']]), back);
    await jest.advanceTimersByTimeAsync(1);
    await source.publish('t', { data: '6' });
    await jest.advanceTimersByTimeAsync(1);
    expect(back.ids).toEqual(['t=7-3', 't=7-4', 't=7-5', 't=7-6']);
    expect(replay).not.toHaveBeenCalled();
    expect(metrics.get('sse_replays_from_memory_total')).toBe(1);
    // Older than what the hub holds (its window starts at 7-0, where the topic stood when it went live; `0` is before
    // everything): the source answers.
    const old = new RecordingSink();
    void runSession(context, source, plan([['t', '0']]), old);
    await jest.advanceTimersByTimeAsync(1);
    expect(old.ids).toEqual(['t=7-1', 't=7-2', 't=7-3', 't=7-4', 't=7-5', 't=7-6']);
    await hub.close();
  });

  it('skips live frames a client already has when it resumes past this process (another feed was ahead)', async () => {
    const source = new LaggingSource(1_000, Number.POSITIVE_INFINITY, 7);
    const metrics = new Metrics();
    const fanout = new TopicFanout(source, metrics, silentLogger);
    const hub = new Hub(OPTIONS, metrics, silentLogger, fanout);
    const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
    const plan = (cursor: [string, string][]) => ({ topics: ['t'], cursor: new Map(cursor), endsAt: Date.now() + 3_600_000, endReason: 'max-session' as const });
    void runSession(context, source, plan([]), new RecordingSink());
    await jest.advanceTimersByTimeAsync(1);
    await source.publish('t', { data: '1' });
    source.lagging = true;
    await source.publish('t', { data: '2' });
    await source.publish('t', { data: '3' });
    // Another instance already gave this client 3; this process's feed is still at 1.
    const ahead = new RecordingSink();
    void runSession(context, source, plan([['t', '7-3']]), ahead);
    await jest.advanceTimersByTimeAsync(1);
    source.catchUp();
    await source.publish('t', { data: '4' });
    await jest.advanceTimersByTimeAsync(1);
    expect(ahead.ids).toEqual(['t=7-4']);
    // Its position frame names where the client is (3), not where this process's feed was (1): never backwards.
    expect(ahead.text).toMatch(/^retry: \d+\n\n/);
    expect(ahead.text.replace(/^retry: \d+\n\n/, '')).toBe('id: t=7-3\n\nid: t=7-4\ndata: 4\n\n');
    await hub.close();
  });

  it('a cursor past everything the source has (it lost it) gets the reset, and then the live position, never topic=0', async () => {
    // Seen from outside: after relay.reset for a cursor newer than the source's newest (a restarted in-process broker, a
    // Redis failover that lost the newest entries, a forged cursor) the position frame said `a=0`, so a reconnect before
    // the next message replayed the whole topic again (memory: a0 a1 a2 a second time).
    const source = new MemorySource(1_000, Number.POSITIVE_INFINITY, 7);
    const metrics = new Metrics();
    const fanout = new TopicFanout(source, metrics, silentLogger);
    const hub = new Hub(OPTIONS, metrics, silentLogger, fanout);
    const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
    for (const data of ['a0', 'a1', 'a2']) await source.publish('a', { data });
    const sink = new RecordingSink();
    void runSession(context, source, { topics: ['a'], cursor: new Map([['a', '7-10']]), endsAt: Date.now() + 3_600_000, endReason: 'max-session' }, sink);
    await jest.advanceTimersByTimeAsync(1);
    expect(sink.text).toContain('event: relay.reset');
    expect(sink.ids).toEqual(['a=7-1', 'a=7-2', 'a=7-3']);
    expect(sink.positions).toEqual(['a=7-3']);
    await source.publish('a', { data: 'a3' });
    await jest.advanceTimersByTimeAsync(1);
    expect(sink.ids.at(-1)).toBe('a=7-4');
    await hub.close();
  });

  it('never moves a multi-topic client back in the topic it resumed ahead in, in replayed or live frames', async () => {
    const source = new LaggingSource(1_000, Number.POSITIVE_INFINITY, 7);
    const metrics = new Metrics();
    const fanout = new TopicFanout(source, metrics, silentLogger);
    const hub = new Hub(OPTIONS, metrics, silentLogger, fanout);
    const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
    const plan = (cursor: [string, string][]) => ({ topics: ['a', 'b'], cursor: new Map(cursor), endsAt: Date.now() + 3_600_000, endReason: 'max-session' as const });
    void runSession(context, source, plan([]), new RecordingSink());
    await jest.advanceTimersByTimeAsync(1);
    await source.publish('a', { data: 'a1' });
    await source.publish('b', { data: 'b1' });
    source.laggingTopics.add('a');
    await source.publish('a', { data: 'a2' });
    await source.publish('a', { data: 'a3' });
    await source.publish('b', { data: 'b2' });
    // Another instance gave this client a up to 3 and b up to 1; this process's feed is at a=7-1, b=7-2.
    const ahead = new RecordingSink();
    void runSession(context, source, plan([['a', '7-3'], ['b', '7-1']]), ahead);
    await jest.advanceTimersByTimeAsync(1);
    await source.publish('b', { data: 'b3' });
    await jest.advanceTimersByTimeAsync(1);
    source.catchUp();
    await source.publish('a', { data: 'a4' });
    await jest.advanceTimersByTimeAsync(1);
    // A reconnect from any of these ids must not get a2 or a3 again.
    expect(ahead.ids).toEqual(['a=7-3,b=7-2', 'a=7-3,b=7-3', 'a=7-4,b=7-3']);
    expect(ahead.positions.every((cursor) => cursor.startsWith('a=7-3,') || cursor.startsWith('a=7-4,'))).toBe(true);
    await hub.close();
  });

  it('resumes exactly when the last other subscriber of one topic leaves while another topic is being prepared', async () => {
    const source = new SlowHeadSource(1_000, Number.POSITIVE_INFINITY, 7);
    const metrics = new Metrics();
    const fanout = new TopicFanout(source, metrics, silentLogger);
    const hub = new Hub(OPTIONS, metrics, silentLogger, fanout);
    const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
    const plan = (topics: string[], cursor: [string, string][]) => ({ topics, cursor: new Map(cursor), endsAt: Date.now() + 3_600_000, endReason: 'max-session' as const });
    const other = new RecordingSink();
    void runSession(context, source, plan(['a'], []), other);
    await jest.advanceTimersByTimeAsync(1);
    await source.publish('a', { data: 'a1' });
    await source.publish('a', { data: 'a2' });
    // The client saw a1 before; its topic b is new to this process, and reading b's head takes a round trip.
    source.slow.add('b');
    const resumed = new RecordingSink();
    void runSession(context, source, plan(['a', 'b'], [['a', '7-1']]), resumed);
    await jest.advanceTimersByTimeAsync(1);
    other.close();
    await source.publish('a', { data: 'a3' });
    source.answer();
    await jest.advanceTimersByTimeAsync(1);
    await source.publish('a', { data: 'a4' });
    await jest.advanceTimersByTimeAsync(1);
    expect(resumed.ids).toEqual(['a=7-2,b=7-0', 'a=7-3,b=7-0', 'a=7-4,b=7-0']);
    expect(resumed.positions.every((cursor) => !cursor.startsWith('a=7-0'))).toBe(true);
    await hub.close();
  });

  it('orders memory positions and Redis stream ids numerically', () => {
    expect(comparePositions('9', '10')).toBeLessThan(0);
    expect(comparePositions('1700000000000-2', '1700000000000-10')).toBeLessThan(0);
    expect(comparePositions('18446744073709551615-0', '18446744073709551614-9')).toBeGreaterThan(0);
    expect(comparePositions('007', '7')).toBe(0);
  });
});

describe('recent-message windows', () => {
  const message = (topic: string, position: number, chars: number) => ({ topic, position: String(position), event: 'message', data: 'x'.repeat(chars) });

  it('hold no more than their shared bound together: a topic past it drops its own oldest (its replays then read the source)', () => {
    // Each window alone was bounded (512 Ki characters) but not all of them together: 100 streams of 16 topics held 800 MB.
    const budget = new RecentBudget(3_000);
    const a = new RecentMessages('0', budget);
    const b = new RecentMessages('0', budget);
    a.push(message('a', 1, 1_000));
    a.push(message('a', 2, 1_000));
    b.push(message('b', 1, 1_000));
    b.push(message('b', 2, 1_000));
    expect(budget.chars).toBe(3_000);
    expect(b.between('0', '2', 10)).toBeUndefined();
    expect(b.between('1', '2', 10)?.map((m) => m.position)).toEqual(['2']);
    expect(a.between('0', '2', 10)?.map((m) => m.position)).toEqual(['1', '2']);
    // Even a window's newest message goes when the others fill the bound: never more than the bound is held.
    const c = new RecentMessages('0', budget);
    c.push(message('c', 1, 2_000));
    expect(budget.chars).toBeLessThanOrEqual(3_000);
    expect(c.between('0', '1', 10)).toBeUndefined();
    a.release();
    expect(budget.chars).toBe(1_000);
  });
});

describe('overload admission', () => {
  it('refuses while the event loop lags, and beyond the accept rate, with a jittered Retry-After', () => {
    let lag = 0;
    let now = 0;
    const gate = new AdmissionGate({ lagMs: 500, ratePerSecond: 10, currentLagMs: () => lag, now: () => now });
    for (let i = 0; i < 10; i++) gate.admit();
    expect(() => gate.admit()).toThrow(expect.objectContaining({ code: 'overloaded' }));
    now += 100; // one more token
    gate.admit();
    now += 10_000;
    lag = 600;
    const refusals = Array.from({ length: 50 }, () => { try { gate.admit(); return undefined; } catch (e) { return e as { code: string; retryAfterSeconds: number }; } });
    for (const refusal of refusals) expect(refusal).toMatchObject({ code: 'overloaded' });
    const seconds = new Set(refusals.map((r) => r?.retryAfterSeconds));
    expect(Math.min(...seconds as Set<number>)).toBeGreaterThanOrEqual(1);
    expect(seconds.size).toBeGreaterThan(2);
  });

  function request(accept: string): RelayRequest {
    const query = new URLSearchParams('topic=t');
    const headers: Record<string, string> = { accept };
    return { method: 'GET', path: '/events', query, header: (n) => headers[n], remoteAddress: '127.0.0.1', readBody: async () => new Uint8Array() };
  }

  it('gives the admission of a refused stream back: requests refused anyway never keep a good stream out', async () => {
    // Before: with ADMISSION_RATE_PER_S, a flow of bad requests (a topic, a token or a cursor refused) took every slot,
    // and good streams got `overloaded` for as long as it lasted.
    const config = loadConfig({ AUTH_MODE: 'none' }).server;
    const admission = new AdmissionGate({ lagMs: 0, ratePerSecond: 2, currentLagMs: () => 0, now: () => 0 });
    const app = new RelayApp({ config, source: new MemorySource(10), logger: silentLogger, admission });
    const bad = (query: string, cursor?: string): RelayRequest => ({
      method: 'GET', path: '/events', query: new URLSearchParams(query), header: (n) => (n === 'last-event-id' ? cursor : undefined), remoteAddress: '127.0.0.1',
      readBody: async () => new Uint8Array(),
    });
    for (let i = 0; i < 50; i++) {
      expect(await app.handle(bad('topic=bad%0a'))).toMatchObject({ status: 400 });
      expect(await app.handle(bad('topic=t', 't=x'))).toMatchObject({ status: 400 });
    }
    const good = await app.handle(request('*/*'));
    expect(good).toMatchObject({ kind: 'stream', status: 200 });
    const sink = new RecordingSink();
    void (good as StreamResponse).run(sink);
    // The gate still counts the streams it admitted: two, then `overloaded`.
    expect(await app.handle(request('*/*'))).toMatchObject({ kind: 'stream', status: 200 });
    expect(await app.handle(request('*/*'))).toMatchObject({ kind: 'body', status: 503, body: JSON.stringify({ error: 'overloaded', message: ERROR_CODES.overloaded.message }) });
    await app.hub.close();
  });

  it('answers 503 overloaded with Retry-After, and an EventSource a retry:-only stream it reconnects from', async () => {
    const config = loadConfig({ AUTH_MODE: 'none' }).server;
    const admission = new AdmissionGate({ lagMs: 100, ratePerSecond: 0, currentLagMs: () => 250 });
    const app = new RelayApp({ config, source: new MemorySource(10), logger: silentLogger, admission });
    const plain = await app.handle(request('*/*'));
    expect(plain).toMatchObject({ kind: 'body', status: 503, body: JSON.stringify({ error: 'overloaded', message: ERROR_CODES.overloaded.message }) });
    expect(Number(plain.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const hinted = (await app.handle(request('text/event-stream'))) as StreamResponse;
    expect(hinted).toMatchObject({ kind: 'stream', status: 200 });
    const sink = new RecordingSink();
    await hinted.run(sink);
    expect(sink.text).toMatch(/^: overloaded\n\nretry: \d{4}\n\n$/);
    expect(sink.ended).toBe(true);
    expect(app.metrics.get('sse_overload_rejected_total')).toBe(2);
    await app.hub.close();
  });
});
