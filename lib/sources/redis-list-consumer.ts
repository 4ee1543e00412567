import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Delivery } from '../source.js';
import { openRedisConnection, pause, withDeadline, type RedisConnectionSettings } from './redis-connection.js';
import { parseListEnvelope, type InvalidEntryListener } from './redis-entry.js';
import { RECOVER_SCRIPT, type ListKeys } from './redis-list-keys.js';

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
    const onAbort = (): void => this.blocking.disconnect();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.register(signal);
      let failures = 0;
      while (!signal.aborted) {
        let taken: Taken | undefined;
        try {
          taken = await this.take();
          failures = 0;
        } catch {
          if (signal.aborted) break;
          failures += 1;
          await pause(Math.min(100 * failures, 1_000), signal);
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

  // Registers the processing lists (so recovery finds them) and starts the heartbeat; retried while Redis is away.
  private async register(signal: AbortSignal): Promise<void> {
    const beat = (): Promise<unknown> => this.command.set(this.keys.heartbeat(this.id), '1', 'PX', this.settings.consumerTtlMs);
    this.heartbeat = setInterval(() => void beat().catch(() => undefined), this.settings.consumerTtlMs / 3);
    this.heartbeat.unref?.();
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await beat();
        await this.command.sadd(this.keys.registry, ...this.topics.map((topic) => this.keys.processing(topic, this.id)));
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
    return {
      topic,
      id: envelope.id ?? randomUUID(),
      event: envelope.event,
      data: envelope.data,
      ack: async () => void (await this.command.lrem(processing, 1, item)),
      release: async () => void (await this.command.multi().lrem(processing, 1, item).rpush(this.keys.queue(topic), item).exec()),
    };
  }

  // Everything this consumer still holds goes back to the front of its queue; then it forgets itself.
  private async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.blocking.disconnect();
    const heartbeat = this.keys.heartbeat(this.id);
    try {
      await this.command.del(heartbeat);
      for (const topic of this.topics) {
        await this.command.eval(RECOVER_SCRIPT, 4, this.keys.processing(topic, this.id), this.keys.queue(topic), heartbeat, this.keys.registry);
      }
    } catch {
      // Redis is away: the heartbeat expires and another process's recovery pass moves the items back.
    }
  }
}
