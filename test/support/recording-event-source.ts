import { EventSource } from 'eventsource';
import { compareStreamIds } from '../../lib/sources/redis/entry.js';
import type { TopicLog } from './sequence-publisher.js';

/** One event as the browser saw it. */
export interface SeenEvent {
  data: string;
  /** The cursor (`topic=streamId` for one topic). */
  id: string;
}

/**
 * A WHATWG EventSource (the `eventsource` package: reconnects after the server's `retry:` with `Last-Event-ID`, gives up
 * on a non-200 answer) that records what a browser tab would: every event, and when the stream opened and broke.
 */
export class RecordingEventSource {
  readonly events: SeenEvent[] = [];
  /** Date.now() of every open (the first, then one per reconnect). */
  readonly opens: number[] = [];
  /** Date.now() of every error (a broken stream, before the reconnect). */
  readonly errors: number[] = [];
  private readonly source: EventSource;

  constructor(readonly url: string, readonly topic: string) {
    this.source = new EventSource(url);
    this.source.onopen = () => void this.opens.push(Date.now());
    this.source.onerror = () => void this.errors.push(Date.now());
    this.source.addEventListener('message', (e) => void this.events.push({ data: String(e.data), id: e.lastEventId }));
  }

  /** The browser gave up (a non-200 answer or close()): it would not reconnect by itself. */
  get closed(): boolean {
    return this.source.readyState === EventSource.CLOSED;
  }

  /** Events that carry `{"seq":n}`, the messages of a SequencePublisher. */
  get sequence(): number[] {
    return this.events.map((e) => (JSON.parse(e.data) as { seq?: number }).seq).filter((s): s is number => typeof s === 'number');
  }

  close(): void {
    this.source.close();
  }
}

/** The stream id inside a single-topic cursor `topic=id`. */
export function streamIdOf(cursor: string): string {
  return cursor.slice(cursor.indexOf('=') + 1);
}

/**
 * What is wrong with what `reader` saw, against what the publisher got acknowledged for its topic (empty when nothing):
 * every event id strictly after the previous one (in order, nothing twice), and the messages exactly seq 0 … n-1 with
 * the stream ids the publisher was given (everything, no gap).
 */
export function sequenceProblems(name: string, reader: { events: readonly SeenEvent[]; sequence: number[] }, log: TopicLog): string[] {
  const problems: string[] = [];
  const positions = reader.events.map((e) => streamIdOf(e.id));
  const backwards = positions.findIndex((p, i) => i > 0 && compareStreamIds(p, positions[i - 1] as string) !== 1);
  if (backwards > 0) problems.push(`${name}: event ${backwards} (${positions[backwards]}) is not after ${positions[backwards - 1]}`);
  const seqs = reader.sequence;
  const firstWrong = seqs.findIndex((s, i) => s !== i);
  if (firstWrong >= 0 || seqs.length !== log.acknowledged) {
    problems.push(`${name}: got ${seqs.length} of ${log.acknowledged} messages of ${log.topic}` +
      (firstWrong >= 0 ? `; at index ${firstWrong} seq ${seqs[firstWrong]}` : ''));
  }
  const seqIds = reader.events.filter((e) => typeof (JSON.parse(e.data) as { seq?: number }).seq === 'number').map((e) => streamIdOf(e.id));
  const wrongId = seqIds.findIndex((id, i) => id !== log.ids[i]);
  if (wrongId >= 0) problems.push(`${name}: seq ${wrongId} came with stream id ${seqIds[wrongId]}, the publisher was given ${log.ids[wrongId]}`);
  return problems;
}
