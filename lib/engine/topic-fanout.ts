import type { Connection } from './connection.js';
import { RelayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { comparePositions } from '../sse/cursor.js';
import { RecentBudget, RecentMessages } from './recent-messages.js';
import type { BroadcastSource, LiveFeed, ReplayResult, StoredMessage } from '../source.js';
import { encodeEvent } from '../sse/encoder.js';
import { TopicSet } from './topic-set.js';

interface TopicState {
  /** The topic sets that include this topic (nearly always one: the topic alone). */
  sets: TopicSet[];
  /** Position of the last message the feed delivered (or the head when the subscription started). */
  position: string;
  /** Settles when the live subscription is in place. */
  ready: Promise<void>;
  /** What the feed delivered since the subscription started (bounded), for cheap replays; set once it is in place. */
  recent: RecentMessages | undefined;
}

/**
 * One live subscription per topic for the whole process, fanned out to every local connection. Each message is encoded
 * once per distinct topic set (single-topic subscribers of a topic all share one frame), because the `id` is a cursor over
 * the subscription's topics; a set's frames of one event-loop turn are joined once and handed to each of its
 * connections at the hub's flush pass (see TopicSet), so a message costs nothing per connection.
 */
export class TopicFanout {
  private readonly topics = new Map<string, TopicState>();
  /** Topic sets by their comma-joined topics (Connection.topicKey). */
  private readonly sets = new Map<string, TopicSet>();
  /** Sets holding frames for the coming flush pass. */
  private pending: TopicSet[] = [];
  private requestFlush: () => void = () => undefined;
  private readonly feed: LiveFeed;
  /** One bound for the recent-message windows of every topic. */
  private readonly recentBudget = new RecentBudget();

  constructor(
    private readonly source: BroadcastSource,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.feed = source.openFeed(
      (message) => this.deliver(message),
      (error) => {
        metrics.inc('sse_source_errors_total');
        logger.warn({ err: error }, 'live feed fault; retrying');
      },
    );
  }

  /** The source's BroadcastSource.positionAfterRestart (memory), for the last frame of a drained stream. */
  get positionAfterRestart(): string | undefined {
    return this.source.positionAfterRestart;
  }

  /**
   * Starts the live subscription of each topic that has none. When one cannot be read, the stream will not open, so
   * the others it started are dropped again unless a connection joined them: nothing else would ever end them, and the
   * feed would read those topics (and hold their recent messages) for the life of the process.
   */
  async ensure(topics: readonly string[]): Promise<void> {
    try {
      await Promise.all(topics.map((topic) => this.state(topic).ready));
    } catch (error) {
      for (const topic of topics) this.dropUnjoined(topic);
      throw error;
    }
  }

  private dropUnjoined(topic: string): void {
    const state = this.topics.get(topic);
    if (state !== undefined && state.sets.length === 0) this.endTopic(topic, state);
  }

  // The one way a topic's live subscription ends: the feed stops reading it and its window leaves the shared bound.
  private endTopic(topic: string, state: TopicState): void {
    this.topics.delete(topic);
    state.recent?.release();
    this.feed.remove(topic);
  }

  private state(topic: string): TopicState {
    let state = this.topics.get(topic);
    if (state !== undefined) return state;
    const created: TopicState = { sets: [], position: '0', ready: Promise.resolve(), recent: undefined };
    created.ready = this.source.head(topic).then(
      (head) => {
        created.position = head;
        created.recent = new RecentMessages(head, this.recentBudget);
        // Dropped while its head was read (see ensure): the feed must not start reading it.
        if (this.topics.get(topic) === created) this.feed.add(topic, head);
      },
      (error: unknown) => {
        if (this.topics.get(topic) === created) this.topics.delete(topic);
        throw new RelayError('source_unavailable', `cannot read topic ${topic}`, { cause: error, retryAfterSeconds: 5 });
      },
    );
    this.topics.set(topic, (state = created));
    return state;
  }

  /** Whether every topic's live subscription is in place now (its head was read), so a connection may join them. */
  live(topics: readonly string[]): boolean {
    return topics.every((topic) => this.topics.get(topic)?.recent !== undefined);
  }

  /** Asks for the hub's flush pass; the hub sets it once, when it takes this fan-out. */
  flushWith(request: () => void): void {
    this.requestFlush = request;
  }

  /** The set of `topics` (sorted), made when its first connection joins: what the connection then joins. */
  setOf(topics: readonly string[]): TopicSet {
    const key = topics.join(',');
    let set = this.sets.get(key);
    if (set === undefined) {
      set = new TopicSet(topics, (of) => this.cursorText(of), (pending) => this.gathered(pending), (bytes) => this.metrics.addBytesWritten(bytes));
      this.sets.set(key, set);
      for (const topic of topics) this.state(topic).sets.push(set);
    }
    return set;
  }

  private gathered(set: TopicSet): void {
    this.pending.push(set);
    this.requestFlush();
  }

  /** Hands every set's frames of this turn to its connections (the hub's flush pass). Returns the bytes written. */
  flushBatches(): number {
    const pending = this.pending;
    this.pending = [];
    let bytes = 0;
    for (const set of pending) bytes += set.flush();
    return bytes;
  }

  /** Takes an ended connection out of its set; a set, and then a topic, with no connection left is dropped. */
  leave(connection: Connection): void {
    const set = this.sets.get(connection.topicKey);
    if (set === undefined || !set.subscribers.delete(connection) || set.subscribers.size > 0) return;
    this.sets.delete(connection.topicKey);
    for (const topic of set.topics) {
      const state = this.topics.get(topic);
      if (state === undefined) continue;
      state.sets = state.sets.filter((other) => other !== set);
      if (state.sets.length === 0) this.endTopic(topic, state);
    }
  }

  /** The live position of each topic: where a joining connection's replay must stop. */
  positions(topics: readonly string[]): Map<string, string> {
    return new Map(topics.map((topic) => [topic, this.topics.get(topic)?.position ?? '0']));
  }

  /**
   * What a connection resuming after `after` must replay of `topic` before its live frames (which follow `until`): from
   * the messages this process holds when they cover it, from the source otherwise. A cursor past `until` (another
   * instance's feed delivered it first) costs one source read to tell "not here yet" from "not in the source at all":
   * in the first case the connection skips the live frames it already has. In the second (a cursor of a memory process
   * whose epoch is later than this one's: the clock stepped back across a restart; a Redis stream lost and written
   * again) the client missed what the source holds now: the source's replay says so (`gap`, hence the reset event) and
   * returns it, and the live frames after `until` are given after all.
   */
  async replay(connection: Connection, topic: string, after: string, until: string, limit: number, maxBytes?: number): Promise<ReplayResult> {
    const order = comparePositions(after, until);
    if (order > 0) {
      // Skip from now on, before the read: frames the feed delivers meanwhile must not slip through.
      connection.skipLiveUntil(topic, after);
      // The source reaching `after` is not enough: a Redis that came back without its data numbers new entries past
      // the client's cursor too, and one published since the subscription began made the cursor look merely ahead
      // (the client then missed what was lost with no reset). So the source also says whether `after` still names
      // its history (a replay ending at `after` itself reads nothing and reports only that).
      if (comparePositions(after, await this.source.head(topic)) <= 0 && !(await this.source.replay(topic, after, after, limit, maxBytes)).gap) {
        return { messages: [], gap: false };
      }
      // Not ahead: the source lost what the cursor names. Skipping "until 0" instead kept `<topic>=0` as the client's
      // own position, and the position frame after the replay named it: a reconnect then replayed everything again.
      connection.stopSkipping(topic);
      return this.source.replay(topic, after, until, limit, maxBytes);
    }
    if (order === 0) return { messages: [], gap: false };
    const held = this.topics.get(topic)?.recent?.between(after, until, limit);
    if (held !== undefined) {
      this.metrics.inc('sse_replays_from_memory_total');
      return { messages: held, gap: false };
    }
    return this.source.replay(topic, after, until, limit, maxBytes);
  }

  private deliver(message: StoredMessage): void {
    const state = this.topics.get(message.topic);
    if (state === undefined) return;
    state.position = message.position;
    let body: string;
    try {
      body = encodeEvent({ event: message.event, data: message.data });
    } catch (error) {
      this.metrics.inc('sse_invalid_messages_total');
      this.logger.warn({ topic: message.topic, position: message.position, err: error }, 'message skipped: cannot be a frame');
      return;
    }
    state.recent?.push(message);
    let subscribers = 0;
    for (const set of state.sets) {
      subscribers += set.subscribers.size;
      set.gather(Buffer.from(`id: ${this.cursorText(set.topics)}\n${body}`), message);
    }
    this.metrics.inc('sse_events_delivered_total', subscribers);
  }

  /** The cursor of a subscription to `topics` (sorted) at the live position: what its next id-only frame names. */
  cursorText(topics: readonly string[]): string {
    let text = '';
    for (const topic of topics) text += `${text === '' ? '' : ','}${topic}=${this.topics.get(topic)?.position ?? '0'}`;
    return text;
  }

  async close(): Promise<void> {
    for (const state of this.topics.values()) state.recent?.release();
    this.topics.clear();
    this.sets.clear();
    this.pending = [];
    await this.feed.close();
  }
}
