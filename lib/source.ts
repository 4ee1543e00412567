/**
 * The ports every message source implements (lib/sources/*). The core depends on these types only; it never imports a
 * source, and a source never imports another.
 */

/** What a publisher hands over. */
export interface OutgoingMessage {
  /** Payload text (JSON is the convention, any UTF-8 text works). */
  data: string;
  /** Event type; `message` when absent. */
  event?: string | undefined;
  /** Optional idempotency key: publishing the same key to the same topic again returns the first message's position. */
  key?: string | undefined;
}

/** A message as a broadcast source stores it. `position` orders it within its topic. */
export interface StoredMessage {
  topic: string;
  position: string;
  event: string;
  data: string;
  /** When it was published, epoch ms, where the position does not tell (memory); for sse_delivery_latency_seconds. */
  publishedAt?: number;
}

/** What a replay found after a position. */
export interface ReplayResult {
  messages: StoredMessage[];
  /**
   * True when something after the requested position is no longer retained, or more than `limit` messages follow it:
   * the client missed messages, so the session sends the reserved reset event before `messages`.
   */
  gap: boolean;
  /**
   * Set when the read stopped at `maxBytes` with entries before `until` left unread: the position of the last entry read
   * (an invalid one, skipped, included). The stream must end after these messages, standing at that position.
   */
  truncatedAt?: string;
}

/** The live side of a broadcast source, shared by every connection of the process (see Hub). */
export interface LiveFeed {
  /** Starts delivering messages of `topic` with positions after `after`, in order, to the feed's listener. */
  add(topic: string, after: string): void;
  /** Stops delivering `topic`. */
  remove(topic: string): void;
  /** Stops the feed and releases its connection. */
  close(): Promise<void>;
}

/** Receives live messages; called in position order per topic. */
export type LiveListener = (message: StoredMessage) => void;

/** Broadcast: every subscriber of a topic sees every message, and a cursor resumes exactly (memory, Redis Streams). */
export interface BroadcastSource {
  readonly delivery: 'broadcast';
  publish(topic: string, message: OutgoingMessage): Promise<StoredMessage>;
  /** Position of the newest retained message of `topic` (or the position before the first one when it is empty). */
  head(topic: string): Promise<string>;
  /**
   * Whether `position` is one this source could ever have issued. A cursor naming any other is refused with 400
   * `invalid_cursor` before the stream starts, so the source never fails on it (a reconnect loop otherwise).
   */
  acceptsPosition(position: string): boolean;
  /**
   * Set by a source whose positions do not outlive its process (memory: the next process reads them as a gap): the
   * position a stream ended by the drain hands its client, so that it resumes at the first message of the process that
   * takes over, without a reset for messages it did not miss. Undefined where positions outlive the process (Redis).
   */
  readonly positionAfterRestart?: string;
  /**
   * Up to `limit` retained messages after `after` and at most `until`, oldest first. A source that reads them from
   * elsewhere stops once they hold `maxBytes` of data (say so with `truncatedAt`): no replay reads more than the stream
   * could queue. With `until` equal to `after` it reads nothing and only says whether something after `after` is gone
   * (`gap`): whether `after` still names this source's history (TopicFanout asks so for a client ahead of its feed).
   */
  replay(topic: string, after: string, until: string, limit: number, maxBytes?: number): Promise<ReplayResult>;
  /** Opens the process-wide live feed. `onError` hears faults the feed recovers from by itself (for logs and metrics). */
  openFeed(listener: LiveListener, onError: (error: unknown) => void): LiveFeed;
  /** Whether the backing service answers now (readiness). */
  isReady(): Promise<boolean>;
  /** Memory the backing store uses and may use (Redis INFO), for metrics; undefined when it did not answer. Optional. */
  memoryUsage?(): Promise<SourceMemory | undefined>;
  close(): Promise<void>;
}

/** Memory of the store behind a source, bytes. */
export interface SourceMemory {
  usedBytes: number;
  /** The store's limit (Redis maxmemory); 0 = none. */
  maxBytes: number;
  /**
   * Whether the store drops keys to stay under its limit (Redis: a maxmemory with a maxmemory-policy other than
   * noeviction, as ElastiCache's and Memorystore's default volatile-lru): streams, idempotency markers and queue
   * heartbeats then vanish instead of a publish being refused. Undefined when the store does not say.
   */
  mayEvict?: boolean;
  /** Keys the store dropped that way since it started (Redis INFO evicted_keys). */
  evictedKeys?: number;
}

/** One message taken from a queue for one subscriber. */
export interface Delivery {
  topic: string;
  /** Source-assigned message id; sent as the SSE `id` with QUEUE_ACK=auto. */
  id: string;
  /**
   * What a browser acknowledges with under QUEUE_ACK=client (the SSE `id` then): `<topic>~<part>` (see queueHandle),
   * enough for any process of the deployment to remove the message, not only the one holding it.
   */
  handle: string;
  event: string;
  data: string;
  /** Removes the message for good; called only after its frame was written (and, with QUEUE_ACK=client, acknowledged). */
  ack(): Promise<void>;
  /**
   * Removes the message its browser acknowledged by `handle` (QUEUE_ACK=client), where a source needs more than ack():
   * redis-list counts each handle once across processes, so a repeated POST /ack cannot remove an identical item
   * another stream holds. Default ack().
   */
  acknowledgeHandle?(): Promise<void>;
  /** Gives the message back to the queue at once for another subscriber, unless it was already removed. */
  release(): Promise<void>;
  /** Whether this consumer still holds it: false once it was acknowledged by handle elsewhere (another process). */
  isHeld(): Promise<boolean>;
}

/** How a queue consumer ends. */
export interface ConsumeOptions {
  /**
   * Asked when the consumer's signal aborts: how long what it was handed and has not settled stays held before it is
   * released, ms (0: at once). It stops taking at once either way; whatever is settled meanwhile (an acknowledgement
   * on its way when the server ended the stream) is not released. The source's own close releases at once.
   */
  holdAfterStopMs?: () => number;
}

/** Queue: each message goes to exactly one subscriber; no replay (Redis list, SQS). */
export interface QueueSource {
  readonly delivery: 'queue';
  publish(topic: string, message: OutgoingMessage): Promise<{ id: string }>;
  /**
   * Takes messages from the topics' queues until `signal` aborts. Deliveries not acked when the consumer stops must be
   * released by the consumer; the source releases what it holds itself when `signal` aborts.
   */
  consume(topics: readonly string[], signal: AbortSignal, options?: ConsumeOptions): AsyncIterable<Delivery>;
  /**
   * Checks, before a stream starts, that the topics' queues can be read now; throws RelayError `source_unavailable`
   * otherwise, so the client gets a 503 with Retry-After instead of an empty stream.
   */
  check(topics: readonly string[]): Promise<void>;
  /**
   * Removes messages of `topic` by their handles (`POST /ack` answered by a process that does not hold them). A handle
   * that names nothing held any more is ignored: the message was acknowledged already or went back to the queue.
   * Resolves with how many handles removed nothing that the source can tell: not of the form it issues, or refused (a
   * made-up handle costs a scan or a queue call all the same, and POST /ack limits a client's misses).
   */
  acknowledge(topic: string, handles: readonly string[]): Promise<number>;
  /**
   * Optional. Resolves once nothing the ended streams gave back is still on its way to the queue (no receive in flight
   * for them, releases and deletes answered): a Lambda handler awaits it before its sandbox freezes.
   */
  settle?(): Promise<void>;
  /**
   * Optional. The process has begun to drain (SIGTERM): reads from now on wait briefly, so that close() can wait for
   * the last one to be answered instead of abandoning it.
   */
  drain?(): void;
  isReady(): Promise<boolean>;
  /** As BroadcastSource's (a Redis list queue fills Redis like a stream does). Optional. */
  memoryUsage?(): Promise<SourceMemory | undefined>;
  close(): Promise<void>;
}

export type Source = BroadcastSource | QueueSource;
