import { describe, expect, it } from '@jest/globals';
import { AdmissionGate } from '../../lib/limits/admission-gate.js';
import { MemoryPressure } from '../../lib/limits/memory-pressure.js';
import { Hub } from '../../lib/engine/hub.js';
import { TopicFanout } from '../../lib/engine/topic-fanout.js';
import { silentLogger } from '../../lib/logger.js';
import { Metrics } from '../../lib/metrics.js';
import { MemorySource } from '../../lib/sources/memory.js';
import { RecordingSink } from '../support/recording-sink.js';

const MIB = 1_048_576;

/** A pressure watch over a memory reading the test sets, sampled by hand; records what it was asked to cut. */
function watch(limitBytes: number) {
  let used = 0;
  let now = 0;
  const asked: number[] = [];
  const pressure = new MemoryPressure({
    limitBytes, sampleMs: 0, now: () => now, usedBytes: () => used,
    shed: (bytes) => (asked.push(bytes), { streams: 1, bytes }),
  });
  return { pressure, asked, use: (bytes: number) => (used = bytes), at: (ms: number) => (now = ms) };
}

describe('MemoryPressure', () => {
  it('over the limit: refuses new streams and asks for the excess to be cut; back under it: accepts again', () => {
    const { pressure, asked, use } = watch(100 * MIB);
    use(90 * MIB);
    pressure.sample();
    expect(pressure.refusal()).toBeUndefined();
    expect(asked).toEqual([]);
    use(130 * MIB);
    pressure.sample();
    expect(pressure.refusal()).toMatch(/memory in use 130\.0 MiB is over OVERLOAD_MEMORY_BYTES \(100\.0 MiB\)/);
    expect(asked).toEqual([30 * MIB]);
    use(99 * MIB);
    pressure.sample();
    expect(pressure.refusal()).toBeUndefined();
  });

  it('counts what it cut in the last 2 s as on its way out, so one excess is not cut twice before the memory shows it', () => {
    const { pressure, asked, use, at } = watch(100 * MIB);
    use(130 * MIB);
    at(0);
    pressure.sample();
    at(250);
    pressure.sample();
    // Still 130 MiB (the cut backlogs not yet collected): nothing more to cut. More memory in use: only the new excess.
    use(140 * MIB);
    at(500);
    pressure.sample();
    expect(asked).toEqual([30 * MIB, 10 * MIB]);
    // Past the window, an excess that stayed is cut again.
    at(2_600);
    pressure.sample();
    expect(asked).toEqual([30 * MIB, 10 * MIB, 40 * MIB]);
  });

  it('a limit of 0 never refuses and never cuts', () => {
    const { pressure, asked, use } = watch(0);
    use(10_000 * MIB);
    pressure.sample();
    expect(pressure.refusal()).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it('the admission gate refuses a new stream as overloaded, with a Retry-After, while memory is over', () => {
    let refusal: string | undefined = 'memory in use 130.0 MiB is over OVERLOAD_MEMORY_BYTES (100.0 MiB)';
    const gate = new AdmissionGate({ lagMs: 0, ratePerSecond: 0, currentLagMs: () => 0, memoryRefusal: () => refusal, random: () => 0 });
    expect(() => gate.admit()).toThrow(expect.objectContaining({ code: 'overloaded', retryAfterSeconds: 1, message: expect.stringContaining('OVERLOAD_MEMORY_BYTES') }));
    refusal = undefined;
    expect(() => gate.admit()).not.toThrow();
  });
});

describe('Hub.shedLargestBacklogs', () => {
  const plan = (topics: string[]) => ({ topics, endsAt: Date.now() + 60_000, endReason: 'max-session' as const, onEnd: () => undefined });

  it('cuts the largest backlogs first until the bytes asked for are let go, never a stream that keeps up, and drops each at once', async () => {
    const metrics = new Metrics();
    const hub = new Hub({ heartbeatMs: 15_000, retryMs: 2_000, connectionBufferBytes: 64 * MIB, sessionIdleMs: 0 }, metrics, silentLogger,
      new TopicFanout(new MemorySource(10, 1e9), metrics, silentLogger));
    const sinks = [5 * MIB, 1 * MIB, 3 * MIB, 60 * 1024, 0].map((backlog) => {
      const sink = new RecordingSink();
      sink.backlog = backlog;
      return sink;
    });
    sinks.forEach((sink, i) => hub.open(plan([`t${i}`]), sink).goLive());
    // Each backlog is the socket's plus the stream's own queued frames (here its position frame, a few bytes).
    const first = hub.shedLargestBacklogs(7 * MIB);
    expect(first.streams).toBe(2);
    expect(first.bytes - 8 * MIB).toBeGreaterThanOrEqual(0);
    expect(first.bytes - 8 * MIB).toBeLessThan(100);
    expect(sinks.map((s) => s.destroyed)).toEqual([true, false, true, false, false]);
    expect(metrics.get('sse_slow_consumer_disconnects_total')).toBe(2);
    // Asked for more than there is: every stream with 64 KiB or more waiting, and none below that.
    expect(hub.shedLargestBacklogs(100 * MIB).streams).toBe(1);
    expect(sinks.map((s) => s.destroyed)).toEqual([true, true, true, false, false]);
    expect(hub.connections.size).toBe(2);
    await hub.close();
  });
});
