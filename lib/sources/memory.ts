import type { BroadcastSource, LiveFeed, LiveListener, OutgoingMessage, ReplayResult, StoredMessage } from '../source.js';

/**
 * Bytes a retained message is counted for beyond its data and event: the object, its position string and timestamp,
 * its ring slot and its entries in the eviction order (up to three while overwritten ones wait for a sweep). Measured
 * with a collected heap (test/security/memory-heap-bound.test.ts): about 270–300 on Node 20 x64.
 */
const MESSAGE_OVERHEAD_BYTES = 320;
/** Bytes a topic's ring is counted for while it exists: the ring, its arrays, its key map, its name and map entry. */
const RING_OVERHEAD_BYTES = 1_024;

/**
 * One topic's retained messages: a ring of at most `capacity`, positions `first`, `first + 1` … (`first - 1` = before
 * the first). Its oldest messages may also be evicted early, to keep the whole source within its byte bound.
 */
class TopicRing {
  private readonly slots: (StoredMessage | undefined)[] = [];
  private next: number;
  /** Positions up to this one are no longer held (evicted for the byte bound, or before the ring began). */
  private evictedThrough: number;
  /** Idempotency keys of retained messages, to their sequence numbers. */
  readonly keys = new Map<string, number>();

  /**
   * @param first the ring's first position. Slots count from it, not from 1: a ring made after others were forgotten
   * starts at a high position, and a first slot at `(first - 1) % capacity` would make its array that long (up to
   * `capacity` holes, 8 bytes each) for one message.
   */
  constructor(private readonly capacity: number, private readonly first: number, private readonly epoch: string) {
    this.next = first;
    this.evictedThrough = first - 1;
  }

  private slotOf(position: number): number {
    return (position - this.first) % this.capacity;
  }

  /** Appends a message; returns it, its sequence number and the message its slot held before (dropped by the ring). */
  append(topic: string, message: OutgoingMessage): { stored: StoredMessage; seq: number; overwritten: StoredMessage | undefined } {
    const seq = this.next;
    const stored: StoredMessage = { topic, position: positionOf(this.epoch, seq), event: message.event ?? 'message', data: message.data, publishedAt: Date.now() };
    const slot = this.slotOf(this.next);
    const overwritten = this.slots[slot];
    this.slots[slot] = stored;
    this.next += 1;
    return { stored, seq, overwritten };
  }

  get head(): number {
    return this.next - 1;
  }

  get oldest(): number {
    return Math.max(this.evictedThrough + 1, this.next - this.capacity);
  }

  /** Messages held. */
  get size(): number {
    return this.head - this.oldest + 1;
  }

  at(position: number): StoredMessage {
    return this.slots[this.slotOf(position)] as StoredMessage;
  }

  /** Drops the oldest message held (for the byte bound) and returns it. */
  evictOldest(): StoredMessage | undefined {
    if (this.size === 0) return undefined;
    const position = this.oldest;
    const slot = this.slotOf(position);
    const evicted = this.slots[slot];
    this.slots[slot] = undefined;
    this.evictedThrough = position;
    return evicted;
  }
}

/**
 * The position `epoch-seq`. join() makes one flat string; a template literal of 13 characters or more makes V8 cons
 * strings, about 25 bytes more per retained message: 0.93 of MEMORY_MAX_BYTES instead of 0.86 in the 200-topic case of
 * test/security/memory-heap-bound.test.ts (Node 20 x64).
 */
function positionOf(epoch: string, seq: number): string {
  return [epoch, seq].join('-');
}

/** Bytes a message is counted for: UTF-8 is never smaller than V8's own string storage, so the bound is conservative. */
function costOf(message: StoredMessage): number {
  return Buffer.byteLength(message.data) + message.event.length + MESSAGE_OVERHEAD_BYTES;
}

/**
 * The in-process broker: a bounded ring per topic, broadcast to every subscriber of this process, exact resume within
 * the ring. Nothing survives a restart, and nothing is shared between processes: for those, use SOURCE=redis.
 *
 * Positions are `epoch-seq`: the process's start time in ms, then a sequence number per topic. Sequence numbers begin
 * again with every process, so without the epoch a cursor from before a restart would name a position of the new
 * process and resume into different messages, silently skipping the ones before it. With it, a cursor of another
 * process always reads as a gap: the client hears `relay.reset` and gets what this process holds.
 *
 * Memory is bounded as a whole (MEMORY_MAX_BYTES), not only per topic: a ring of MEMORY_BUFFER_SIZE per topic, with any
 * number of topics, would let one publisher grow the process without end. Past the bound the oldest messages of the
 * whole source go first (a client resuming before them gets `relay.reset`), and a topic left with nothing and no live
 * subscriber is forgotten. A forgotten topic's positions are never reused: a ring made later starts after every
 * position a forgotten ring issued, so an old cursor reads as a gap, never as a resume into different messages.
 */
export class MemorySource implements BroadcastSource {
  readonly delivery = 'broadcast';
  /**
   * A drained client's own cursor names this process, which the next one reads as a gap (a reset for messages the client
   * did not miss): it is handed 0 instead, before everything of the process that takes over.
   */
  readonly positionAfterRestart: string | undefined = '0';
  private readonly rings = new Map<string, TopicRing>();
  private readonly epoch: string;
  private readonly feeds = new Set<{ listener: LiveListener; topics: Set<string> }>();
  /** Retained messages, oldest first (entries whose message has left its ring are skipped). */
  private order: { topic: string; ring: TopicRing; position: number }[] = [];
  private orderStart = 0;
  private retained = 0;
  private bytes = 0;
  /** The highest sequence number any forgotten ring issued; later rings start after it. */
  private floor = 0;

  /**
   * @param capacity messages retained per topic (MEMORY_BUFFER_SIZE).
   * @param maxBytes bytes retained by the whole source (MEMORY_MAX_BYTES); unbounded when omitted.
   * @param epoch the first part of every position: this process's start (ms), so that no two processes share positions.
   */
  constructor(private readonly capacity: number, private readonly maxBytes = Number.POSITIVE_INFINITY, epoch = Date.now()) {
    this.epoch = String(epoch);
  }

  private position(seq: number): string {
    return positionOf(this.epoch, seq);
  }

  /**
   * The sequence number `position` names in this process: 0 for `0` (before everything, as positionAfterRestart says),
   * undefined for a position of another process.
   */
  private seqOf(position: string): number | undefined {
    if (position === '0') return 0;
    const dash = position.indexOf('-');
    // A plain number is another process's (a version without the epoch), even one that begins with this epoch's digits.
    if (dash < 0) return undefined;
    return position.slice(0, dash) === this.epoch ? Number(position.slice(dash + 1)) : undefined;
  }

  private ring(topic: string): TopicRing {
    let ring = this.rings.get(topic);
    if (ring === undefined) {
      this.rings.set(topic, (ring = new TopicRing(this.capacity, this.floor + 1, this.epoch)));
      this.bytes += RING_OVERHEAD_BYTES;
    }
    return ring;
  }

  async publish(topic: string, message: OutgoingMessage): Promise<StoredMessage> {
    const ring = this.ring(topic);
    const earlier = message.key === undefined ? undefined : ring.keys.get(message.key);
    if (earlier !== undefined && earlier >= ring.oldest) return ring.at(earlier);
    const { stored, seq, overwritten } = ring.append(topic, message);
    this.account(topic, ring, stored, seq, overwritten);
    if (message.key !== undefined) this.remember(ring, message.key, seq);
    for (const feed of this.feeds) if (feed.topics.has(topic)) feed.listener(stored);
    this.evictOverBound();
    return stored;
  }

  private account(topic: string, ring: TopicRing, stored: StoredMessage, seq: number, overwritten: StoredMessage | undefined): void {
    this.bytes += costOf(stored);
    if (overwritten === undefined) this.retained += 1;
    else this.bytes -= costOf(overwritten);
    this.order.push({ topic, ring, position: seq });
    // Entries of messages the rings overwrote stay behind in `order`; sweep them before they outnumber the live ones.
    if (this.order.length - this.orderStart > 2 * this.retained + 1_024) this.compactOrder();
  }

  // Idempotency keys live as long as their message is retained, so the key map stays as bounded as the ring.
  private remember(ring: TopicRing, key: string, seq: number): void {
    ring.keys.set(key, seq);
    if (ring.keys.size > this.capacity) {
      for (const [k, position] of ring.keys) {
        if (position < ring.oldest) ring.keys.delete(k);
        else break;
      }
    }
  }

  /** Evicts the oldest messages of the whole source until it is within `maxBytes`; never the one just published. */
  private evictOverBound(): void {
    // The last entry is the message just published.
    while (this.bytes > this.maxBytes && this.orderStart < this.order.length - 1) {
      const { topic, ring, position } = this.order[this.orderStart] as (typeof this.order)[number];
      this.orderStart += 1;
      if (this.rings.get(topic) !== ring || position !== ring.oldest) continue; // overwritten, or the ring is gone
      const evicted = ring.evictOldest();
      if (evicted !== undefined) [this.bytes, this.retained] = [this.bytes - costOf(evicted), this.retained - 1];
      if (ring.size === 0 && !this.isLive(topic)) this.forget(topic, ring);
    }
    if (this.orderStart > 1_024 && this.orderStart * 2 > this.order.length) this.compactOrder();
  }

  private forget(topic: string, ring: TopicRing): void {
    this.rings.delete(topic);
    this.bytes -= RING_OVERHEAD_BYTES;
    this.floor = Math.max(this.floor, ring.head);
  }

  private isLive(topic: string): boolean {
    for (const feed of this.feeds) if (feed.topics.has(topic)) return true;
    return false;
  }

  private compactOrder(): void {
    this.order = this.order.slice(this.orderStart).filter(({ topic, ring, position }) => this.rings.get(topic) === ring && position >= ring.oldest);
    this.orderStart = 0;
  }

  // Plain numbers too: the positions of versions before the epoch, which a browser may still hold (read as a gap).
  acceptsPosition(position: string): boolean {
    return /^\d{1,16}(-\d{1,16})?$/.test(position) && position.split('-').every((part) => Number(part) <= Number.MAX_SAFE_INTEGER);
  }

  // A topic without a ring stands where the next ring would begin.
  async head(topic: string): Promise<string> {
    return this.position(this.rings.get(topic)?.head ?? this.floor);
  }

  async replay(topic: string, after: string, until: string, limit: number): Promise<ReplayResult> {
    const ring = this.rings.get(topic);
    const seq = this.seqOf(after);
    // No ring: a topic quiet since the start stands at the floor (head() says so). A cursor of another process, or one
    // below the floor (from a topic forgotten since): either way what followed it may be gone.
    if (ring === undefined) return { messages: [], gap: seq !== this.floor };
    const last = Math.min(this.seqOf(until) ?? ring.head, ring.head);
    let first = (seq ?? Number.NaN) + 1;
    // Another process's position, older than what is retained, or newer than anything this ring issued: either way
    // the client missed messages, so it hears the reset and gets what is retained.
    let gap = !(first >= ring.oldest && first <= ring.head + 1);
    if (gap) first = ring.oldest;
    if (last - first + 1 > limit) {
      gap = true;
      first = last - limit + 1;
    }
    const messages: StoredMessage[] = [];
    for (let p = first; p <= last; p++) messages.push(ring.at(p));
    return { messages, gap };
  }

  openFeed(listener: LiveListener): LiveFeed {
    const feed = { listener, topics: new Set<string>() };
    this.feeds.add(feed);
    return {
      // Messages published between the caller's head() and add() are handed over here, so no message falls between.
      add: (topic, after) => {
        feed.topics.add(topic);
        const ring = this.rings.get(topic);
        if (ring === undefined) return;
        for (let p = Math.max((this.seqOf(after) ?? 0) + 1, ring.oldest); p <= ring.head; p++) listener(ring.at(p));
      },
      remove: (topic) => {
        feed.topics.delete(topic);
        // A ring emptied by the byte bound was kept for its subscribers only.
        const ring = this.rings.get(topic);
        if (ring !== undefined && ring.size === 0 && !this.isLive(topic)) this.forget(topic, ring);
      },
      close: async () => void this.feeds.delete(feed),
    };
  }

  async isReady(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.feeds.clear();
  }
}
