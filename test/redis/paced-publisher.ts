import { publish } from '../support/relay-server.js';
import { expect } from '@jest/globals';
import { compareStreamIds } from '../../lib/sources/redis/entry.js';
import type { SseReader } from '../support/sse-reader.js';

/** One POST /publish attempt: `seq` is in the data, `id` is the stream id when the relay answered 202. */
export interface Attempt {
  seq: number;
  status: number;
  id?: string;
  ms: number;
  /** When the request was sent (Date.now()). */
  at: number;
}

/**
 * Publishes `{seq}` to `topic` at `perSecond` until stop() (at most `maxInFlight` requests open at once, so a stalled
 * server cannot make the test pile up requests). Every attempt is recorded with its answer and latency.
 */
export function startPacedPublisher(url: string, topic: string, perSecond: number, maxInFlight = 128) {
  const attempts: Attempt[] = [];
  const pending = new Set<Promise<void>>();
  let seq = 0;
  const send = (): void => {
    if (pending.size >= maxInFlight) return;
    const mine = seq++;
    const started = Date.now();
    const request = publish(url, { topic, data: JSON.stringify({ seq: mine }) }).then(
      ({ status, json }) => void attempts.push({ seq: mine, status, ms: Date.now() - started, at: started, ...(status === 202 ? { id: String(json.id) } : {}) }),
      () => void attempts.push({ seq: mine, status: 0, ms: Date.now() - started, at: started }),
    );
    pending.add(request);
    void request.finally(() => pending.delete(request));
  };
  // Timers fire at most every ~1 ms; send the number of messages due since the start, so the average rate holds.
  const startedAt = Date.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - startedAt) * perSecond) / 1_000);
    for (; sent < due; sent++) send();
  }, 4);
  return {
    attempts,
    async stop(): Promise<Attempt[]> {
      clearInterval(timer);
      await Promise.all([...pending]);
      return attempts;
    },
  };
}

/** The stream id inside a single-topic cursor `topic=id`. */
export function positionOf(cursor: string | undefined): string {
  return (cursor ?? '').split('=')[1] ?? '';
}

/**
 * Every subscriber saw the stream in order and nothing twice (ids strictly increasing, including messages whose publish
 * failed but Redis kept), saw every acknowledged message, and its stream never broke.
 */
export function expectExactlyOnceInOrder(readers: readonly SseReader[], acked: readonly Attempt[]): void {
  const ackedIds = new Set(acked.map((a) => a.id));
  for (const reader of readers) {
    const positions = reader.events.map((e) => positionOf(e.id));
    for (let i = 1; i < positions.length; i++) expect(compareStreamIds(positions[i] as string, positions[i - 1] as string)).toBe(1);
    expect(positions.filter((p) => ackedIds.has(p))).toEqual(acked.map((a) => a.id));
    expect(reader.error).toBeUndefined();
  }
}
