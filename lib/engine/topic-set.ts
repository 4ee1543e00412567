import type { Connection } from './connection.js';
import type { LiveBatch, LiveSet } from './live-batch.js';
import type { StoredMessage } from '../source.js';

// Past this many gathered bytes a set hands its frames out at once instead of at the end of the turn: coalescing is
// bounded by bytes as well as by one event-loop turn.
const COALESCE_MAX_BYTES = 64 * 1024;

/**
 * The connections of one topic set (the same sorted topics, so the same cursor ids) and the frames gathered for them
 * in the current event-loop turn. Frames are encoded once per set and joined once per turn into one buffer that every
 * connection of the set is handed at flush: a connection's work is per flush (one bound check, one write of a buffer
 * shared with the whole set), not per message.
 */
export class TopicSet implements LiveSet {
  readonly subscribers = new Set<Connection>();
  private frames: Uint8Array[] = [];
  private messages: StoredMessage[] = [];
  private bytes = 0;

  constructor(
    readonly topics: readonly string[],
    /** The cursor over `topics` at the live position. */
    private readonly cursorOf: (topics: readonly string[]) => string,
    /** Hears that the set holds frames for the coming flush pass (once per turn, on the first frame). */
    private readonly onPending: (set: TopicSet) => void,
    /** Hears the bytes it wrote outside the flush pass (which counts what `flush()` returns to it). */
    private readonly onWritten: (bytes: number) => void = () => undefined,
  ) {}

  /**
   * Adds a connection. Frames gathered before it joined precede its subscription (a resuming stream replays them from
   * the source), so they go to the others first.
   */
  add(connection: Connection): void {
    this.onWritten(this.flush());
    this.subscribers.add(connection);
  }

  /** Gathers one message's frame (its `id` is this set's cursor) for the coming flush. */
  gather(frame: Uint8Array, message: StoredMessage): void {
    this.frames.push(frame);
    this.messages.push(message);
    this.bytes += frame.byteLength;
    if (this.frames.length === 1) this.onPending(this);
    else if (this.bytes >= COALESCE_MAX_BYTES) this.onWritten(this.flush());
  }

  /**
   * Hands the frames gathered so far to every connection of the set, as one buffer (the frame itself when there is one).
   * Returns the bytes written to sockets at once (connections that hold or queue them count them when they write).
   */
  flush(): number {
    const count = this.frames.length;
    if (count === 0) return 0;
    const frames = this.frames;
    const batch: LiveBatch = {
      buffer: count === 1 ? (frames[0] as Uint8Array) : Buffer.concat(frames, this.bytes),
      frames,
      messages: this.messages,
    };
    // Detached before handing out: a connection that ends meanwhile (and flushes its set) finds nothing left to send.
    this.frames = [];
    this.messages = [];
    this.bytes = 0;
    let written = 0;
    for (const connection of this.subscribers) written += connection.sendLive(batch);
    return written;
  }

  cursor(): string {
    return this.cursorOf(this.topics);
  }
}
