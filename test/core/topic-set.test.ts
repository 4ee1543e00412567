import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { EndReason } from '../../lib/engine/connection-plan.js';
import { Hub } from '../../lib/engine/hub.js';
import { TopicFanout } from '../../lib/engine/topic-fanout.js';
import { silentLogger } from '../../lib/logger.js';
import { Metrics } from '../../lib/metrics.js';
import { runSession, type SessionContext } from '../../lib/engine/session.js';
import { MemorySource } from '../../lib/sources/memory.js';
import { RecordingSink } from '../support/recording-sink.js';

const OPTIONS = { heartbeatMs: 15_000, retryMs: 2_000, connectionBufferBytes: 4_096, sessionIdleMs: 0 };

function setup() {
  const source = new MemorySource(100, Number.POSITIVE_INFINITY, 7); // positions 7-1, 7-2 …
  const metrics = new Metrics();
  const fanout = new TopicFanout(source, metrics, silentLogger);
  const hub = new Hub(OPTIONS, metrics, silentLogger, fanout);
  const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
  const open = (topics: string[], cursor: [string, string][] = []) => {
    const sink = new RecordingSink();
    const ended = runSession(context, source, { topics, cursor: new Map(cursor), endsAt: Date.now() + 3_600_000, endReason: 'max-session' }, sink);
    return { sink, ended };
  };
  /** A live stream opened on the hub directly, so a test can act on it within one turn. */
  const openLive = async (topics: string[], live = true) => {
    await fanout.ensure(topics);
    const sink = new RecordingSink();
    let endedWith: EndReason | undefined;
    const connection = hub.open({ topics, endsAt: Date.now() + 3_600_000, endReason: 'max-session', onEnd: (reason) => (endedWith = reason) }, sink);
    if (live) connection.goLive();
    return { sink, connection, endedWith: () => endedWith };
  };
  return { source, hub, open, openLive };
}

/** Lets promises and the hub's once-per-turn flush run. */
const settle = () => jest.advanceTimersByTimeAsync(1);
const afterRetry = (text: string): string => text.replace(/^retry: \d+\n\n/, '');

describe('a topic set hands its turn of frames to every connection at once', () => {
  beforeEach(() => void jest.useFakeTimers());
  afterEach(() => void jest.useRealTimers());

  it('gives each topic set its own ids and one shared buffer per turn', async () => {
    const { source, hub, open } = setup();
    const a1 = open(['a']);
    const a2 = open(['a']);
    const ab = open(['a', 'b']);
    await settle();
    await source.publish('a', { data: '1' });
    await source.publish('b', { data: '2' });
    await source.publish('a', { data: '3' });
    await settle();
    expect(a1.sink.chunks.at(-1)).toBe(a2.sink.chunks.at(-1));
    expect(afterRetry(a1.sink.text)).toBe('id: a=7-0\n\nid: a=7-1\ndata: 1\n\nid: a=7-2\ndata: 3\n\n');
    expect(afterRetry(ab.sink.text)).toBe('id: a=7-0,b=7-0\n\nid: a=7-1,b=7-0\ndata: 1\n\nid: a=7-1,b=7-1\ndata: 2\n\nid: a=7-2,b=7-1\ndata: 3\n\n');
    await hub.close();
  });

  it('a stream that resumes while the turn has gathered frames gets each message once', async () => {
    const { source, hub, open } = setup();
    const first = open(['a']);
    await settle();
    for (let i = 1; i <= 3; i++) await source.publish('a', { data: String(i) }); // gathered, not yet handed out
    const back = open(['a'], [['a', '7-1']]);
    await settle();
    await source.publish('a', { data: '4' });
    await settle();
    expect(first.sink.ids).toEqual(['a=7-1', 'a=7-2', 'a=7-3', 'a=7-4']);
    expect(back.sink.ids).toEqual(['a=7-2', 'a=7-3', 'a=7-4']);
    await hub.close();
  });

  it('a stream going live names its position only after the live frames gathered during its replay', async () => {
    const { source, hub, openLive } = setup();
    const stream = await openLive(['a'], false); // replaying: live frames are held
    await settle();
    await source.publish('a', { data: '1' }); // gathered for the turn, not yet handed out
    stream.connection.goLive();
    await settle();
    expect(stream.sink.text).toBe('id: a=7-1\ndata: 1\n\nid: a=7-1\n\n');
    await hub.close();
  });

  it('a stream ended mid-turn writes the frames gathered so far before its position and retry', async () => {
    const { source, hub, openLive } = setup();
    const stream = await openLive(['a']);
    await settle();
    await source.publish('a', { data: 'one' });
    await source.publish('a', { data: 'two' });
    stream.connection.end('max-session');
    expect(stream.endedWith()).toBe('max-session');
    expect(stream.sink.text).toMatch(/^id: a=7-0\n\nid: a=7-1\ndata: one\n\nid: a=7-2\ndata: two\n\nid: a=7-2\n\nretry: \d+\n\n$/);
    expect(stream.sink.ended).toBe(true);
    await hub.close();
  });

  it('skips, within one turn, the frames a client that resumed ahead of this process already has', async () => {
    const { source, hub, openLive } = setup();
    const stream = await openLive(['a']);
    await settle();
    stream.connection.skipLiveUntil('a', '7-2');
    for (let i = 1; i <= 4; i++) await source.publish('a', { data: String(i) });
    await settle();
    expect(stream.sink.ids).toEqual(['a=7-3', 'a=7-4']);
    await hub.close();
  });

  it('cuts a connection whose socket is behind when the turn is handed out, and only it', async () => {
    const { source, hub, openLive } = setup();
    const slow = await openLive(['a']);
    const fast = await openLive(['a']);
    await settle();
    slow.sink.backlog = 4_000;
    for (let i = 0; i < 3; i++) await source.publish('a', { data: 'x'.repeat(100) });
    expect(slow.endedWith()).toBeUndefined(); // nothing per message: the bound is checked once per turn
    await settle();
    expect(slow.endedWith()).toBe('slow-consumer');
    expect(slow.sink.text).toMatch(/^id: a=7-0\n\nretry: 0\n\n$/);
    expect(fast.sink.ids).toEqual(['a=7-1', 'a=7-2', 'a=7-3']);
    expect(fast.endedWith()).toBeUndefined();
    await hub.close();
  });

  it('hands out at once a turn that gathered more than 64 KiB, and writes every frame once', async () => {
    const { source, hub, openLive } = setup();
    const stream = await openLive(['a']);
    await settle();
    const writesBefore = stream.sink.writes;
    for (let i = 1; i <= 30; i++) await source.publish('a', { data: String(i).padEnd(4_000, '.') });
    expect(stream.sink.writes - writesBefore).toBeGreaterThan(0); // before the end of the turn
    await settle();
    expect(stream.sink.ids).toEqual(Array.from({ length: 30 }, (_, i) => `a=7-${i + 1}`));
    await hub.close();
  });
});
