import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { queueHandle } from '../../queue-handle.js';
import type { Delivery } from '../../source.js';
import { openRedisConnection, pause, withDeadline, type RedisConnectionSettings } from './connection.js';
import { parseListEnvelope, type InvalidEntryListener } from './entry.js';
import { isWrongTypeError } from './list-key-check.js';
import { RECOVER_SCRIPT, RELEASE_SCRIPT, type ListKeys } from './list-keys.js';

/** What one consumer needs (see RedisListSettings). */
export interface ListConsumerSettings extends RedisConnectionSettings {
  blockMs: number;
  maxMessageBytes: number;
  consumerTtlMs: number;
  onInvalidEntry?: InvalidEntryListener | undefined;
}

// With several topics the consumer cannot block on all of them at once (BLMOVE takes one list), so it blocks on each in
// turn for at most this long: a message on another topic waits at most this much.
const MULTI_TOPIC_BLOCK_MS = 500;
const DEADLINE_GRACE_MS = 1_500;

interface Taken {
  topic: string;
  item: Buffer;
}

/**
 * One subscriber of SOURCE=redis-list: its own blocking connection, its own processing list per topic
 * (`BLMOVE queue → processing`), a heartbeat key while it lives. When it stops it moves whatever it still holds back to
 * the queues; when it dies, another process's recovery pass does.
 */
export class ListConsumer {
  readonly id = randomUUID();
  private readonly blocking: Redis;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private next = 0;
  /** Items handed out and not yet acked or released, by processing list then SHA-1: what this consumer knows it holds. */
  private readonly handedOut = new Map<string, Map<string, number>>();
  /** Items found in a processing list after a lost BLMOVE reply, waiting to be delivered. */
  private readonly orphans: Taken[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly command: Redis,
    private readonly keys: ListKeys,
    private readonly settings: ListConsumerSettings,
    private readonly topics: readonly string[],
  ) {
    this.blocking = openRedisConnection(settings, 'blocking') as Redis;
  }

  /** Yields deliveries until `signal` aborts; retries by itself while Redis is away. */
  async *run(signal: AbortSignal): AsyncGenerator<Delivery> {
    // Hands back at once, not when the generator is next resumed: the stream may sit in a write for a while, and a
    // shutdown closes Redis soon after the streams end.
    const onAbort = (): void => void this.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.register(signal);
      let failures = 0;
      while (!signal.aborted) {
        let taken: Taken | undefined;
        try {
          taken = this.orphans.shift() ?? (await this.take());
          failures = 0;
        } catch (error) {
          if (signal.aborted) break;
          // Retrying cannot fix a key of the wrong type: the stream ends and its reconnect gets a clear 503.
          if (isWrongTypeError(error)) throw error;
          failures += 1;
          await pause(Math.min(100 * failures, 1_000), signal);
          await this.adoptOrphans().catch(() => undefined);
          continue;
        }
        const delivery = taken === undefined ? undefined : await this.toDelivery(taken);
        if (delivery !== undefined) yield delivery;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      await this.stop();
    }
  }

  // The heartbeat and the registration go together in one MULTI, every beat: a consumer paused past its TTL, whose
  // lists a recovery pass unregistered, is registered again the moment it runs, so its lists can never be stranded. In a
  // cluster that is one MULTI per topic (its slot), and the topic joins the set of topics recovery passes visit.
  private beat(): Promise<unknown> {
    const groups = this.keys.beatGroups(this.topics, this.id);
    return Promise.all(groups.map(async (group) => {
      const multi = this.command.multi().set(group.heartbeat, '1', 'PX', this.settings.consumerTtlMs).sadd(group.registry, ...group.processing);
      await multi.exec();
      if (this.keys.topics !== undefined) await this.command.sadd(this.keys.topics, group.topic);
    }));
  }

  private async register(signal: AbortSignal): Promise<void> {
    this.heartbeat = setInterval(() => void this.beat().catch(() => undefined), this.settings.consumerTtlMs / 3);
    this.heartbeat.unref?.();
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.beat();
        return;
      } catch {
        await pause(Math.min(100 * attempt, 1_000), signal);
      }
    }
  }

  private async take(): Promise<Taken | undefined> {
    const { blockMs } = this.settings;
    if (this.topics.length > 1) {
      for (let i = 0; i < this.topics.length; i++) {
        const topic = this.rotate();
        const move = this.blocking.lmoveBuffer(this.keys.queue(topic), this.keys.processing(topic, this.id), 'RIGHT', 'LEFT');
        const item = await withDeadline(DEADLINE_GRACE_MS, move, () => this.blocking.disconnect(true));
        if (item !== null) return { topic, item };
      }
    }
    const topic = this.rotate();
    const waitMs = this.topics.length > 1 ? Math.min(blockMs, MULTI_TOPIC_BLOCK_MS) : blockMs;
    const move = this.blocking.blmoveBuffer(this.keys.queue(topic), this.keys.processing(topic, this.id), 'RIGHT', 'LEFT', waitMs / 1000);
    const item = await withDeadline(waitMs + DEADLINE_GRACE_MS, move, () => this.blocking.disconnect(true));
    return item === null ? undefined : { topic, item };
  }

  /**
   * After a failed or timed-out move, the move may have happened with only its reply lost: the item is then in this
   * consumer's processing list but was never handed out. Such items are delivered now instead of when the stream ends.
   */
  private async adoptOrphans(): Promise<void> {
    for (const topic of this.topics) {
      const processing = this.keys.processing(topic, this.id);
      const known = new Map(this.handedOut.get(processing));
      for (const item of await this.command.lrangeBuffer(processing, 0, -1)) {
        const sha = sha1(item);
        const count = known.get(sha) ?? 0;
        if (count > 0) known.set(sha, count - 1);
        else if (!this.orphans.some((o) => o.topic === topic && o.item.equals(item))) this.orphans.push({ topic, item });
      }
    }
  }

  private rotate(): string {
    const topic = this.topics[this.next % this.topics.length] as string;
    this.next += 1;
    return topic;
  }

  private async toDelivery({ topic, item }: Taken): Promise<Delivery | undefined> {
    const processing = this.keys.processing(topic, this.id);
    const envelope = parseListEnvelope(item, this.settings.maxMessageBytes);
    if (typeof envelope === 'string') {
      // Set aside rather than dropped or retried: it would fail the same way for every consumer, for ever.
      await this.command.multi().lrem(processing, 1, item).lpush(this.keys.invalid(topic), item).exec().catch(() => undefined);
      this.settings.onInvalidEntry?.({ topic, position: '?', reason: envelope });
      return undefined;
    }
    const sha = sha1(item);
    this.count(processing, sha, 1);
    const settle = (): void => this.count(processing, sha, -1);
    return {
      topic,
      id: envelope.id ?? randomUUID(),
      handle: queueHandle(topic, `${this.id}~${sha}`),
      event: envelope.event,
      data: envelope.data,
      ack: async () => void (await this.command.lrem(processing, 1, item), settle()),
      release: async () => void (await this.command.eval(RELEASE_SCRIPT, 2, processing, this.keys.queue(topic), item), settle()),
      isHeld: async () => (await this.command.lpos(processing, item)) !== null,
    };
  }

  private count(processing: string, sha: string, by: number): void {
    const counts = this.handedOut.get(processing) ?? new Map<string, number>();
    const next = (counts.get(sha) ?? 0) + by;
    if (next > 0) counts.set(sha, next);
    else counts.delete(sha);
    if (counts.size > 0) this.handedOut.set(processing, counts);
    else this.handedOut.delete(processing);
  }

  /** Hands back everything this consumer holds, once; resolves when done (or when Redis is away). */
  stop(): Promise<void> {
    this.stopping ??= this.handBack();
    return this.stopping;
  }

  // Everything this consumer still holds goes back to the front of its queue; then it forgets itself.
  private async handBack(): Promise<void> {
    clearInterval(this.heartbeat);
    this.blocking.disconnect();
    try {
      for (const group of this.keys.beatGroups(this.topics, this.id)) await this.command.del(group.heartbeat);
      for (const topic of this.topics) {
        const keys = [this.keys.processing(topic, this.id), this.keys.queue(topic), this.keys.heartbeat(topic, this.id), this.keys.registry(topic)];
        await this.command.eval(RECOVER_SCRIPT, 4, ...keys);
      }
    } catch {
      // Redis is away: the heartbeat expires and another process's recovery pass moves the items back.
    }
  }
}

function sha1(item: Buffer): string {
  return createHash('sha1').update(item).digest('hex');
}
