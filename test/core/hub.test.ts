import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Hub } from '../../lib/engine/hub.js';
import { TopicFanout } from '../../lib/engine/topic-fanout.js';
import { silentLogger } from '../../lib/logger.js';
import { Metrics } from '../../lib/metrics.js';
import { runSession, type SessionContext, type SessionPlan } from '../../lib/engine/session.js';
import { MemorySource } from '../../lib/sources/memory.js';
import type { LiveFeed, LiveListener } from '../../lib/source.js';
import { RecordingSink } from '../support/recording-sink.js';

const OPTIONS = { heartbeatMs: 15_000, retryMs: 2_000, connectionBufferBytes: 4_096, sessionIdleMs: 0 };

/** The memory source as if its positions outlived the process (as Redis's do). */
class DurableMemorySource extends MemorySource {
  override readonly positionAfterRestart = undefined;
}

/** The epoch of the memory sources below: their positions are 7-1, 7-2 … (a real process's is its start time in ms). */
const EPOCH = 7;

function setup(options: Partial<typeof OPTIONS> = {}, replayMax = 100, source: MemorySource = new MemorySource(5, Number.POSITIVE_INFINITY, EPOCH)) {
  const metrics = new Metrics();
  const fanout = new TopicFanout(source, metrics, silentLogger);
  const hub = new Hub({ ...OPTIONS, ...options }, metrics, silentLogger, fanout);
  const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax };
  const open = (topics: string[], cursor: [string, string][] = [], endsAt = Date.now() + 3_600_000) => {
    const sink = new RecordingSink();
    const plan: SessionPlan = { topics, cursor: new Map(cursor), endsAt, endReason: 'max-session' };
    const ended = runSession(context, source, plan, sink);
    return { sink, ended };
  };
  return { source, metrics, hub, fanout, open };
}

/** Lets promises and the hub's once-per-turn flush run. */
const settle = () => jest.advanceTimersByTimeAsync(1);

/** A memory source some of whose topics cannot be read (a wrong-type key, a cluster partition that is down). */
class PartlyReadableSource extends MemorySource {
  readonly unreadable = new Set<string>();
  /** The topics its live feed reads now. */
  readonly read = new Set<string>();

  override async head(topic: string): Promise<string> {
    if (this.unreadable.has(topic)) throw new Error(`topic ${topic} is not readable`);
    return super.head(topic);
  }

  override openFeed(listener: LiveListener): LiveFeed {
    const feed = super.openFeed(listener);
    return {
      add: (topic, after) => (this.read.add(topic), feed.add(topic, after)),
      remove: (topic) => (this.read.delete(topic), feed.remove(topic)),
      close: () => feed.close(),
    };
  }
}

describe('Hub and session loop', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('writes retry first, then live events with a cursor id', async () => {
    const { source, open, hub } = setup();
    const { sink } = open(['a']);
    await settle();
    await source.publish('a', { data: 'one' });
    await source.publish('a', { data: 'two\nlines', event: 'note' });
    await settle();
    // Live at once: the id-only position frame, then each event with its cursor.
    expect(sink.text).toMatch(/^retry: \d+\n\n/);
    expect(sink.text.replace(/^retry: \d+\n\n/, '')).toBe('id: a=7-0\n\nid: a=7-1\ndata: one\n\nid: a=7-2\nevent: note\ndata: two\ndata: lines\n\n');
    await hub.close();
  });

  it('spreads the first retry over [RETRY_MS/2, 3·RETRY_MS/2), so a crowd cut without a last frame does not come back at once', async () => {
    const { open, hub } = setup();
    const sinks = Array.from({ length: 50 }, () => open(['a']).sink);
    await settle();
    const delays = sinks.map((sink) => Number(/^retry: (\d+)\n\n/.exec(sink.text)?.[1]));
    for (const delay of delays) expect(delay >= 1_000 && delay < 3_000).toBe(true);
    // 50 draws of 2,000 possible values: a handful of repeats at most, never one value for all.
    expect(new Set(delays).size).toBeGreaterThan(25);
    await hub.close();
  });

  it('encodes a message once for all subscribers of the same topics and writes once per turn per connection', async () => {
    const { source, open, hub } = setup();
    const x = open(['a']);
    const y = open(['a']);
    await settle();
    const writesBefore = x.sink.writes;
    for (let i = 0; i < 3; i++) await source.publish('a', { data: String(i) });
    await settle();
    expect(x.sink.writes - writesBefore).toBe(1); // three frames, one write
    expect(x.sink.chunks.at(-1)).toBe(y.sink.chunks.at(-1)); // joined once, the same Buffer object for both
    expect(Buffer.from(x.sink.chunks.at(-1) as Uint8Array).toString()).toBe('id: a=7-1\ndata: 0\n\nid: a=7-2\ndata: 1\n\nid: a=7-3\ndata: 2\n\n');
    await hub.close();
  });

  it('replays after the cursor, then continues live with no gap and no duplicate', async () => {
    const { source, open, hub } = setup();
    for (let i = 1; i <= 4; i++) await source.publish('a', { data: String(i) });
    const { sink } = open(['a'], [['a', '7-2']]);
    await settle();
    await source.publish('a', { data: '5' });
    await settle();
    expect(sink.ids).toEqual(['a=7-3', 'a=7-4', 'a=7-5']);
    await hub.close();
  });

  it('resumes a multi-topic subscription exactly, with one id naming every topic', async () => {
    const { source, open, hub } = setup();
    await source.publish('a', { data: 'a1' });
    await source.publish('b', { data: 'b1' });
    await source.publish('a', { data: 'a2' });
    await source.publish('b', { data: 'b2' });
    const { sink } = open(['a', 'b'], [['a', '7-1'], ['b', '7-1']]);
    await settle();
    await source.publish('b', { data: 'b3' });
    await settle();
    expect(sink.ids).toEqual(['a=7-2,b=7-1', 'a=7-2,b=7-2', 'a=7-2,b=7-3']);
    await hub.close();
  });

  it('sends one reset event when the cursor is older than the buffer, then continues from the oldest retained', async () => {
    const { source, open, metrics, hub } = setup();
    for (let i = 1; i <= 8; i++) await source.publish('a', { data: String(i) }); // buffer keeps 4..8
    const { sink } = open(['a'], [['a', '7-1']]);
    await settle();
    expect(sink.text).toMatch(/^retry: \d+\n\nevent: relay\.reset\ndata: \{"reason":"cursor-expired","topics":\["a"\]\}\n\n/);
    expect(sink.ids).toEqual(['a=7-4', 'a=7-5', 'a=7-6', 'a=7-7', 'a=7-8']);
    expect(metrics.get('sse_resets_total')).toBe(1);
    await hub.close();
  });

  // The reset tells the page which topics to reload ("topics"): one whose replay is exact must not be named, and the
  // reset must come before any replayed message, or a page reloading on it would throw away messages already shown.
  it('names in the reset only the topics whose cursor expired, before any replayed message', async () => {
    const { source, open, hub } = setup();
    await source.publish('a', { data: 'a1' });
    await source.publish('a', { data: 'a2' });
    for (let i = 1; i <= 8; i++) await source.publish('b', { data: `b${i}` }); // buffer keeps b4..b8
    const { sink } = open(['a', 'b'], [['a', '7-1'], ['b', '7-1']]);
    await settle();
    expect(sink.text).toMatch(/^retry: \d+\n\nevent: relay\.reset\ndata: \{"reason":"cursor-expired","topics":\["b"\]\}\n\n/);
    expect(sink.ids).toEqual(['a=7-2,b=7-1', 'a=7-2,b=7-4', 'a=7-2,b=7-5', 'a=7-2,b=7-6', 'a=7-2,b=7-7', 'a=7-2,b=7-8']);
    await hub.close();
  });

  // Every cursor of another process reads as a gap, whatever its sequence number: 6-2 names a number this process issued
  // too (before the epoch, the client resumed into the new process's messages and skipped its first two); 8-1 comes
  // from a later epoch (the clock stepped back); plain numbers are the positions of versions without the epoch.
  it.each(['6-57', '6-2', '8-1', '57', '2'])('resumes a cursor from before a restart (%s) with the reset, then all this process holds', async (cursor) => {
    const { source, open, hub } = setup();
    const before = open(['a']); // the topic is live in this process, as on a restarted server with the demo page open
    await settle();
    await source.publish('a', { data: 'new-1' });
    await source.publish('a', { data: 'new-2' });
    await settle();
    const { sink } = open(['a'], [['a', cursor]]);
    await settle();
    await source.publish('a', { data: 'new-3' });
    await settle();
    expect(sink.text).toMatch(/^retry: \d+\n\nevent: relay\.reset\ndata: \{"reason":"cursor-expired","topics":\["a"\]\}\n\n/);
    expect(sink.ids).toEqual(['a=7-1', 'a=7-2', 'a=7-3']);
    expect(before.sink.ids).toEqual(['a=7-1', 'a=7-2', 'a=7-3']);
    await hub.close();
  });

  it('resumes a cursor from before a restart in a topic the restarted source has no message of yet with the reset', async () => {
    const { source, open, hub } = setup();
    const { sink } = open(['a', 'b'], [['a', '6-57'], ['b', '6-9']]);
    await settle();
    await source.publish('b', { data: 'b-1' });
    await settle();
    expect(sink.text).toMatch(/^retry: \d+\n\nevent: relay\.reset\n/);
    // The position the client was given names the restarted source's, so its next reconnect resumes there.
    expect(sink.ids).toEqual(['a=7-0,b=7-1']);
    await hub.close();
  });

  it('bounds replay to replayMax, signalling the skip with the reset event', async () => {
    const { source, open, hub } = setup({}, 2);
    for (let i = 1; i <= 5; i++) await source.publish('a', { data: String(i) });
    const { sink } = open(['a'], [['a', '7-1']]);
    await settle();
    expect(sink.text).toContain('event: relay.reset');
    expect(sink.ids).toEqual(['a=7-4', 'a=7-5']);
    await hub.close();
  });

  it('counts the replayed frames a stream was given when it is cut as a slow consumer during its replay', async () => {
    const source = new MemorySource(100);
    const { metrics, hub, fanout } = setup({}, 100, source);
    for (let i = 1; i <= 60; i++) await source.publish('a', { data: 'x'.repeat(100) });
    // A client that reads nothing: every byte written stays in the socket, so the replay outgrows the 4 KiB bound.
    const sink = new (class extends RecordingSink {
      override write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
        this.backlog += chunk.byteLength;
        return super.write(chunk, done);
      }
    })();
    const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
    const ended = runSession(context, source, { topics: ['a'], cursor: new Map([['a', '0']]), endsAt: Date.now() + 60_000, endReason: 'max-session' }, sink);
    await settle();
    expect(await ended).toBe('slow-consumer');
    const given = sink.ids.length;
    expect(given).toBeGreaterThan(0);
    expect(metrics.get('sse_replayed_events_total')).toBe(given);
    expect(metrics.get('sse_events_delivered_total')).toBe(given);
    await hub.close();
  });

  it('sends heartbeats from one process timer, whatever the number of connections', async () => {
    const { open, hub, metrics } = setup({ heartbeatMs: 5_000 });
    const streams = [open(['a']), open(['b']), open(['a', 'b'])];
    await settle();
    const timersWithThree = jest.getTimerCount();
    open(['c']);
    await settle();
    expect(jest.getTimerCount()).toBe(timersWithThree);
    await jest.advanceTimersByTimeAsync(5_000);
    await settle();
    for (const { sink } of streams) expect(sink.text).toContain(': heartbeat\n\n');
    expect(metrics.get('sse_heartbeats_total')).toBe(1);
    await hub.close();
  });

  it('spreads heartbeats over the period: each tick writes to one slot of the streams, each stream once a period', async () => {
    const { open, hub, metrics } = setup({ heartbeatMs: 5_000 });
    const streams = Array.from({ length: 50 }, () => open(['a']));
    await settle();
    const beats = () => streams.map(({ sink }) => sink.text.split(': heartbeat\n\n').length - 1);
    await jest.advanceTimersByTimeAsync(1_000);
    // Five slots of a 5 s period: the first tick reaches a fifth of the streams, not all of them.
    expect(beats().filter((n) => n === 1)).toHaveLength(10);
    await jest.advanceTimersByTimeAsync(4_000);
    expect(beats()).toEqual(streams.map(() => 1));
    expect(metrics.get('sse_heartbeats_total')).toBe(1);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(beats()).toEqual(streams.map(() => 3));
    await hub.close();
  });

  it('sends each heartbeat on the tick nearest its due time, even when the wall clock runs a little behind the timers', async () => {
    const { open, hub, metrics } = setup({ heartbeatMs: 5_000 });
    open(['a']);
    await settle();
    // The wall clock (Date.now) a millisecond behind the timer clock: the 5th tick reads 4,999 ms since the start.
    jest.setSystemTime(Date.now() - 2);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(metrics.get('sse_heartbeats_total')).toBe(1);
    // No drift: ten periods later, ten more heartbeats.
    await jest.advanceTimersByTimeAsync(50_000);
    expect(metrics.get('sse_heartbeats_total')).toBe(11);
    await hub.close();
  });

  it('ends a stream at its maximum length with a jittered retry', async () => {
    const { open, hub } = setup();
    const { sink, ended } = open(['a'], [], Date.now() + 10_000);
    await settle();
    await jest.advanceTimersByTimeAsync(11_000);
    await expect(ended).resolves.toBe('max-session');
    const retry = Number(/retry: (\d+)\n\n$/.exec(sink.text)?.[1]);
    expect(retry).toBeGreaterThanOrEqual(1_000);
    expect(retry).toBeLessThan(3_000);
    expect(sink.ended).toBe(true);
    await hub.close();
  });

  it('ends an idle stream when SESSION_IDLE_MS is set', async () => {
    const { open, hub } = setup({ sessionIdleMs: 3_000, heartbeatMs: 1_000 });
    const { ended } = open(['a']);
    await settle();
    await jest.advanceTimersByTimeAsync(4_000);
    await expect(ended).resolves.toBe('idle');
    await hub.close();
  });

  it('cuts off a connection that stays behind, counts it, and keeps serving the others', async () => {
    const { source, open, hub, metrics } = setup();
    const slow = open(['a']);
    const fast = open(['a']);
    await settle();
    slow.sink.backlog = 4_000; // the client stopped reading: bytes pile up in its socket
    await source.publish('a', { data: 'x'.repeat(200) });
    await settle(); // the bound is checked when the turn's frames are handed out
    await expect(slow.ended).resolves.toBe('slow-consumer');
    await source.publish('a', { data: 'after' });
    await settle();
    expect(fast.sink.ids).toEqual(['a=7-1', 'a=7-2']);
    expect(slow.sink.text).toMatch(/retry: \d+\n\n$/);
    expect(metrics.get('sse_slow_consumer_disconnects_total')).toBe(1);
    expect(hub.connections.size).toBe(1);
    await hub.close();
  });

  it('drops the topic subscription when the last client leaves', async () => {
    const { source, open, hub } = setup();
    const { sink, ended } = open(['a']);
    await settle();
    sink.close();
    await expect(ended).resolves.toBe('client-closed');
    expect(hub.connections.size).toBe(0);
    await source.publish('a', { data: 'nobody listens' });
    await hub.close();
  });

  it('stops reading the topics a stream prepared when another of its topics cannot be read', async () => {
    const source = new PartlyReadableSource(100);
    const metrics = new Metrics();
    const fanout = new TopicFanout(source, metrics, silentLogger);
    const hub = new Hub(OPTIONS, metrics, silentLogger, fanout);
    const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
    source.unreadable.add('b');
    const plan: SessionPlan = { topics: ['a', 'b'], cursor: new Map(), endsAt: Date.now() + 60_000, endReason: 'max-session' };
    await expect(fanout.ensure(plan.topics)).rejects.toThrow(/cannot read topic b/);
    await expect(runSession(context, source, plan, new RecordingSink())).resolves.toBe('source-error');
    await settle();
    // Nobody subscribes to a: the feed must not go on reading it (and holding its recent messages) for ever.
    expect([...source.read]).toEqual([]);
    await hub.close();
  });

  it('drains every stream with a retry', async () => {
    const { open, hub } = setup();
    const streams = [open(['a']), open(['b'])];
    await settle();
    const drained = hub.drain({ minimumMs: 1_000, ratePerSecond: 500 });
    await jest.advanceTimersByTimeAsync(1_000);
    await drained;
    for (const s of streams) await expect(s.ended).resolves.toBe('shutdown');
    await hub.close();
  });
});

describe('every broadcast stream says where it stands (id-only frames)', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /** The frames after the first `retry:`, as text, for exact comparison. */
  const afterRetry = (text: string): string => text.replace(/^retry: \d+\n\n/, '');

  it('a fresh stream names the live position as soon as it is live, before any event', async () => {
    const { source, open, hub } = setup();
    await source.publish('a', { data: 'old' });
    await source.publish('b', { data: 'old' });
    const { sink } = open(['a', 'b']);
    await settle();
    expect(afterRetry(sink.text)).toBe('id: a=7-1,b=7-1\n\n');
    expect(sink.ids).toEqual([]);
    await hub.close();
  });

  it('a resumed stream names its position after the replay and after the live frames that arrived meanwhile', async () => {
    const { source, open, hub } = setup();
    for (let i = 1; i <= 3; i++) await source.publish('a', { data: String(i) });
    const { sink } = open(['a'], [['a', '7-1']]);
    await source.publish('a', { data: '4' }); // arrives while the replay runs
    await settle();
    expect(sink.ids).toEqual(['a=7-2', 'a=7-3', 'a=7-4']);
    expect(sink.positions).toEqual(['a=7-4']);
    await hub.close();
  });

  it.each([
    ['max-session', { endsIn: 10_000, advance: 11_000 }],
    ['idle', { endsIn: 3_600_000, advance: 4_000, idle: 3_000 }],
  ] as const)('a quiet stream ended by %s sends its position just before the final retry', async (reason, c) => {
    const { source, open, hub } = setup({ sessionIdleMs: 'idle' in c ? c.idle : 0, heartbeatMs: 1_000 });
    const { sink, ended } = open(['a'], [], Date.now() + c.endsIn);
    await settle();
    await source.publish('b', { data: 'another topic' });
    await jest.advanceTimersByTimeAsync(c.advance);
    await expect(ended).resolves.toBe(reason);
    expect(sink.ids).toEqual([]);
    expect(sink.text).toMatch(/id: a=7-0\n\nretry: \d+\n\n$/);
    await hub.close();
  });

  it('a drained stream sends its position before its retry', async () => {
    const { source, open, hub } = setup({}, 100, new DurableMemorySource(5, Number.POSITIVE_INFINITY, EPOCH));
    await source.publish('a', { data: 'x' });
    const { sink, ended } = open(['a']);
    await settle();
    const drained = hub.drain({ minimumMs: 100, ratePerSecond: 500 });
    await jest.advanceTimersByTimeAsync(100);
    await drained;
    await expect(ended).resolves.toBe('shutdown');
    expect(afterRetry(sink.text)).toMatch(/^id: a=7-1\n\nid: a=7-1\n\nretry: \d+\n\n$/);
    await hub.close();
  });

  it('a drained stream of the memory source ends with every topic at 0: before everything of the process that takes over', async () => {
    // Its own cursor (a=7-2,b=7-1) names another process there: a gap, so the client would hear a reset for messages it
    // did not miss. At 0 it gets all the next process holds, without one.
    const { source, open, hub } = setup();
    await source.publish('a', { data: 'x' });
    await source.publish('a', { data: 'y' });
    await source.publish('b', { data: 'z' });
    const { sink, ended } = open(['a', 'b']);
    await settle();
    const drained = hub.drain({ minimumMs: 100, ratePerSecond: 500 });
    await jest.advanceTimersByTimeAsync(100);
    await drained;
    await expect(ended).resolves.toBe('shutdown');
    expect(afterRetry(sink.text)).toMatch(/^id: a=7-2,b=7-1\n\nid: a=0,b=0\n\nretry: \d+\n\n$/);
    await hub.close();
  });

  it('a slow consumer is cut without a position: its queued frames were dropped, so it resumes from what it got', async () => {
    const { source, open, hub } = setup();
    const slow = open(['a']);
    await settle();
    slow.sink.backlog = 4_000;
    await source.publish('a', { data: 'x'.repeat(200) });
    await settle(); // the bound is checked when the turn's frames are handed out
    await expect(slow.ended).resolves.toBe('slow-consumer');
    expect(slow.sink.positions).toEqual(['a=7-0']);
    expect(slow.sink.ids).toEqual([]);
    await hub.close();
  });
});

describe('MemorySource', () => {
  /** The sequence number of a position `epoch-seq`. */
  const seq = (position: string): number => Number(position.split('-')[1]);

  it('keeps a bounded ring per topic and reports the gap past it', async () => {
    const source = new MemorySource(3, Number.POSITIVE_INFINITY, EPOCH);
    for (let i = 1; i <= 5; i++) await source.publish('t', { data: String(i) });
    expect(await source.head('t')).toBe('7-5');
    expect(await source.replay('t', '7-3', '7-5', 10)).toMatchObject({ gap: false, messages: [{ position: '7-4' }, { position: '7-5' }] });
    expect((await source.replay('t', '0', '7-5', 10)).gap).toBe(true);
    expect(await source.head('empty')).toBe('7-0');
  });

  it('names each position after the process: its start time in ms, then the sequence number', async () => {
    const before = Date.now();
    const source = new MemorySource(3);
    const after = Date.now();
    const { position } = await source.publish('t', { data: 'x' });
    const [epoch, first] = position.split('-').map(Number) as [number, number];
    expect(epoch).toBeGreaterThanOrEqual(before);
    expect(epoch).toBeLessThanOrEqual(after);
    expect(first).toBe(1);
  });

  it('treats a cursor newer than anything it issued as a gap, replaying what it retains', async () => {
    const source = new MemorySource(3, Number.POSITIVE_INFINITY, EPOCH);
    for (let i = 1; i <= 2; i++) await source.publish('t', { data: String(i) });
    expect(await source.replay('t', '7-57', '7-2', 10)).toMatchObject({ gap: true, messages: [{ position: '7-1' }, { position: '7-2' }] });
    expect(await source.replay('t', '7-2', '7-2', 10)).toMatchObject({ gap: false, messages: [] });
  });

  // Before the epoch, positions were 1, 2, 3 … in every process: a cursor of 3 from before a restart resumed at 4 of the
  // new process, and the client never got its 1 to 3.
  it.each([
    ['of the process before (its sequence number within what this one retains)', '1-3'],
    ['of the process before, newer than anything this one issued', '1-57'],
    ['of a later epoch (the clock stepped back)', '3-1'],
    ['of a version without the epoch', '3'],
    ['of a version without the epoch, that begins with this epoch', '23'],
  ])('treats a cursor %s as a gap and replays all it retains', async (_, cursor) => {
    const source = new MemorySource(100, Number.POSITIVE_INFINITY, 2);
    for (let i = 1; i <= 30; i++) await source.publish('t', { data: String(i) });
    const all = Array.from({ length: 30 }, (_, i) => `2-${i + 1}`);
    const replay = await source.replay('t', cursor, '2-30', 100);
    expect(replay.gap).toBe(true);
    expect(replay.messages.map((m) => m.position)).toEqual(all);
    expect(replay.messages.map((m) => m.data)).toEqual(all.map((p) => String(seq(p))));
    // Its own positions still resume exactly, and 0 (where a drained stream leaves its client) is before everything.
    expect(await source.replay('t', '2-3', '2-30', 100)).toMatchObject({ gap: false, messages: all.slice(3).map((position) => ({ position })) });
    expect(await source.replay('t', '0', '2-30', 100)).toMatchObject({ gap: false, messages: all.map((position) => ({ position })) });
    // A topic with no message yet: another process's cursor is a gap there too, its own head and 0 are not.
    expect(await source.replay('quiet', cursor, '2-0', 100)).toEqual({ messages: [], gap: true });
    expect(await source.replay('quiet', '2-0', '2-0', 100)).toEqual({ messages: [], gap: false });
    expect(await source.replay('quiet', '0', '2-0', 100)).toEqual({ messages: [], gap: false });
  });

  it('keeps all topics together within its byte bound: the oldest messages of any topic go first, emptied topics are forgotten', async () => {
    // Before the bound, every topic kept MEMORY_BUFFER_SIZE messages for ever: 3,000 publishes of 60 KB to new topics
    // grew a server by 210 MB that it never gave back.
    const cost = 1_000 + 'message'.length + 320;
    const source = new MemorySource(100, 10 * cost + 1_024 * 10, EPOCH);
    for (let i = 0; i < 1_000; i++) await source.publish(`t${i}`, { data: 'x'.repeat(1_000) });
    // The newest topics are held; the oldest were evicted, then forgotten.
    const newest = await source.head('t999');
    expect(await source.replay('t999', `7-${seq(newest) - 1}`, newest, 10)).toMatchObject({ gap: false, messages: [{ data: 'x'.repeat(1_000) }] });
    expect(await source.replay('t0', '7-1', '7-1', 10)).toEqual({ messages: [], gap: true });
    // A topic that never had a message stands where the next ring would begin: its own position is no gap.
    const quiet = await source.head('never');
    expect(seq(quiet)).toBeGreaterThan(0);
    expect(await source.replay('never', quiet, quiet, 10)).toEqual({ messages: [], gap: false });
    // A forgotten topic's positions are not reused: a cursor from before reads as a gap, never as a resume.
    const again = await source.publish('t0', { data: 'new' });
    expect(seq(again.position)).toBeGreaterThan(1);
    expect(await source.replay('t0', '7-1', again.position, 10)).toMatchObject({ gap: true, messages: [{ data: 'new' }] });
    // One busy topic is bounded the same way, long before its ring of 100 is full.
    for (let i = 0; i < 50; i++) await source.publish('busy', { data: String(i).padStart(1_000, '0') });
    const head = await source.head('busy');
    const held = await source.replay('busy', '0', head, 100);
    expect(held.gap).toBe(true);
    expect(held.messages.length).toBeLessThanOrEqual(Math.floor((10 * cost + 1_024 * 10) / cost));
    expect(held.messages.at(-1)?.data).toBe('49'.padStart(1_000, '0'));
  });

  it('keeps the ring of a topic with a live subscriber, evicted or not, and resumes it after its last position', async () => {
    const source = new MemorySource(100, 4 * (1_000 + 7 + 320) + 1_024 * 3, EPOCH);
    const seen: string[] = [];
    const feed = source.openFeed((m) => seen.push(`${m.topic}=${m.position}`));
    feed.add('live', await source.head('live'));
    await source.publish('live', { data: 'x'.repeat(1_000) });
    for (let i = 0; i < 20; i++) await source.publish(`other${i}`, { data: 'x'.repeat(1_000) });
    expect(await source.head('live')).toBe('7-1');
    await source.publish('live', { data: 'after' });
    expect(seen.filter((s) => s.startsWith('live='))).toEqual(['live=7-1', 'live=7-2']);
    expect(await source.replay('live', '7-1', '7-2', 10)).toMatchObject({ gap: false, messages: [{ data: 'after' }] });
    await feed.close();
  });

  it('accepts only positions it could have issued, and the plain numbers of versions without the epoch', () => {
    const source = new MemorySource(3, Number.POSITIVE_INFINITY, EPOCH);
    const max = String(Number.MAX_SAFE_INTEGER);
    expect(['0', '17', max, '7-1', '1796103993502-31', `${max}-${max}`].map((p) => source.acceptsPosition(p))).toEqual([true, true, true, true, true, true]);
    const refused = ['99999999999999999', '7-99999999999999999', '99999999999999999-1', '-1', '7-', '7-1-1', '7--1', ''];
    expect(refused.map((p) => source.acceptsPosition(p))).toEqual(refused.map(() => false));
  });

  it('treats a repeated idempotency key as the same message', async () => {
    const source = new MemorySource(3, Number.POSITIVE_INFINITY, EPOCH);
    const first = await source.publish('t', { data: 'x', key: 'k1' });
    const again = await source.publish('t', { data: 'x', key: 'k1' });
    expect(again.position).toBe(first.position);
    expect(await source.head('t')).toBe('7-1');
  });

  it('hands a feed the messages published between head() and add()', async () => {
    const source = new MemorySource(10, Number.POSITIVE_INFINITY, EPOCH);
    const seen: string[] = [];
    const feed = source.openFeed((m) => seen.push(m.position));
    const head = await source.head('t');
    await source.publish('t', { data: 'raced' });
    feed.add('t', head);
    await source.publish('t', { data: 'live' });
    expect(seen).toEqual(['7-1', '7-2']);
    await feed.close();
  });
});
