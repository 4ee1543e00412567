import type { BroadcastSource, LiveFeed, LiveListener, OutgoingMessage, ReplayResult, StoredMessage } from '../source.js';

/** One topic's retained messages: a ring of at most `capacity`, positions 1, 2, 3 … (position 0 = before the first). */
class TopicRing {
  private readonly slots: StoredMessage[] = [];
  private next = 1;
  readonly keys = new Map<string, StoredMessage>();

  constructor(private readonly capacity: number) {}

  append(topic: string, message: OutgoingMessage): StoredMessage {
    const stored: StoredMessage = { topic, position: String(this.next), event: message.event ?? 'message', data: message.data, publishedAt: Date.now() };
    this.slots[(this.next - 1) % this.capacity] = stored;
    this.next += 1;
    return stored;
  }

  get head(): number {
    return this.next - 1;
  }

  get oldest(): number {
    return Math.max(1, this.next - this.capacity);
  }

  at(position: number): StoredMessage {
    return this.slots[(position - 1) % this.capacity] as StoredMessage;
  }
}

/**
 * The in-process broker: a bounded ring per topic, broadcast to every subscriber of this process, exact resume within
 * the ring. Nothing survives a restart, and nothing is shared between processes: for those, use SOURCE=redis.
 */
export class MemorySource implements BroadcastSource {
  readonly delivery = 'broadcast';
  /** Ids restart at 1 with the process: a drained client resumes from before the first id of the next one. */
  readonly positionAfterRestart: string | undefined = '0';
  private readonly rings = new Map<string, TopicRing>();
  private readonly feeds = new Set<{ listener: LiveListener; topics: Set<string> }>();

  /** @param capacity messages retained per topic (MEMORY_BUFFER_SIZE). */
  constructor(private readonly capacity: number) {}

  private ring(topic: string): TopicRing {
    let ring = this.rings.get(topic);
    if (ring === undefined) this.rings.set(topic, (ring = new TopicRing(this.capacity)));
    return ring;
  }

  async publish(topic: string, message: OutgoingMessage): Promise<StoredMessage> {
    const ring = this.ring(topic);
    const earlier = message.key === undefined ? undefined : ring.keys.get(message.key);
    if (earlier !== undefined && Number(earlier.position) >= ring.oldest) return earlier;
    const stored = ring.append(topic, message);
    if (message.key !== undefined) this.remember(ring, message.key, stored);
    for (const feed of this.feeds) if (feed.topics.has(topic)) feed.listener(stored);
    return stored;
  }

  // Idempotency keys live as long as their message is retained, so the key map stays as bounded as the ring.
  private remember(ring: TopicRing, key: string, stored: StoredMessage): void {
    ring.keys.set(key, stored);
    if (ring.keys.size > this.capacity) {
      for (const [k, m] of ring.keys) {
        if (Number(m.position) < ring.oldest) ring.keys.delete(k);
        else break;
      }
    }
  }

  acceptsPosition(position: string): boolean {
    return /^\d{1,16}$/.test(position) && Number(position) <= Number.MAX_SAFE_INTEGER;
  }

  async head(topic: string): Promise<string> {
    return String(this.rings.get(topic)?.head ?? 0);
  }

  async replay(topic: string, after: string, until: string, limit: number): Promise<ReplayResult> {
    const ring = this.rings.get(topic);
    // No message of the topic since the start: a cursor past 0 came from before a restart, and what followed it is gone.
    if (ring === undefined) return { messages: [], gap: Number(after) > 0 };
    const last = Math.min(Number(until), ring.head);
    let first = Number(after) + 1;
    // Older than what is retained, or newer than anything this ring issued (the cursor came from before a restart):
    // either way the client missed messages, so it hears the reset and gets what is retained.
    let gap = first < ring.oldest || first > ring.head + 1;
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
        for (let p = Math.max(Number(after) + 1, ring.oldest); p <= ring.head; p++) listener(ring.at(p));
      },
      remove: (topic) => void feed.topics.delete(topic),
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
