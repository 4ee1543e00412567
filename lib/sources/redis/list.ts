import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RelayError } from '../../errors.js';
import type { ConsumeOptions, Delivery, OutgoingMessage, QueueSource, SourceMemory } from '../../source.js';
import { connected, openRedisConnection, pause, retryOnStale, targetOf, type RedisClient, type RedisConnectionSettings } from './connection.js';
import { encodeListEnvelope, type InvalidEntryListener } from './entry.js';
import { ListHeartbeat } from './list-heartbeat.js';
import { isWrongTypeError, ListKeyCheck } from './list-key-check.js';
import { ACK_BY_HASHES_SCRIPT, ACK_MARKER_TTL_MS, ListKeys, pushCommand, RECOVER_SCRIPT } from './list-keys.js';
import { BlockingPool } from './list-pool.js';
import { ListSubscription } from './list-subscription.js';
import { ListTaker, type TakerContext } from './list-taker.js';
import { parseQueueHandle } from '../../queue-handle.js';
import { ReplicatedWriter, type ReplicationPolicy } from './replication.js';
import { SharedPing } from './shared-ping.js';
import { memoryUsage, publishFailure } from './memory.js';

/** Settings of SOURCE=redis-list; functions/build-source.ts fills them from REDIS_* and MAX_MESSAGE_BYTES. */
export interface RedisListSettings extends RedisConnectionSettings {
  keyPrefix: string;
  /** Longest BLMOVE wait before it is re-issued, ms. */
  blockMs: number;
  maxMessageBytes: number;
  /** A process whose heartbeat is this old is dead and its items go back to the queue, ms. Default 15000. */
  consumerTtlMs?: number | undefined;
  /**
   * Most blocking connections the process opens, one per topic being taken from; beyond that, topics take turns
   * (each blocks at most 250 ms while another waits). Default 32.
   */
  maxBlockingConnections?: number | undefined;
  /** How long a publish idempotency key is remembered, seconds (lib/config FIXED_SETTINGS). */
  idempotencyTtlSeconds: number;
  onInvalidEntry?: InvalidEntryListener | undefined;
  /** Hears faults the source cannot recover from by itself, such as a queue key of the wrong type (log and count them). */
  onFault?: ((message: string, details: Record<string, unknown>) => void) | undefined;
  /** REDIS_WAIT_REPLICAS / REDIS_WAIT_TIMEOUT_MS: a publish is acknowledged once that many replicas hold it. */
  replication?: ReplicationPolicy | undefined;
  /** Called when Redis refuses a publish with OOM (maxmemory reached under noeviction), for the metric. */
  onOutOfMemory?: (() => void) | undefined;
}

const READY_TIMEOUT_MS = 1_000;
// How long a PONG answers for every stream that opens meanwhile (lib/sources/redis/shared-ping.ts).
const PING_FRESH_MS = 1_000;
// On close, how long the source waits for its subscribers and takers to hand back what they hold before it disconnects.
const HAND_BACK_MS = 3_000;
// The source's part of a handle: the consumer id (a UUID), the item's SHA-1 and the delivery's number in that process
// (which only tells identical items apart; the SHA-1 finds the item, and handles issued without it are still taken).
const HANDLE_PART = /^([0-9a-f-]{36})~([0-9a-f]{40})(?:~[0-9a-z]{1,11})?$/;

/**
 * Queue over Redis lists, the reliable pattern: producers `LPUSH` a JSON envelope onto `<prefix>q:<topic>`; one taker
 * per topic per process `BLMOVE`s items into the process's processing list for its local subscribers, and an item is
 * removed only after its frame was written (or acknowledged), so every item goes to exactly one subscriber and a process
 * that dies loses nothing (see recover()). Connections and Redis commands per message do not grow with subscribers.
 * docs/redis.md has the envelope and key layout for producers in other languages.
 */
export class RedisListSource implements QueueSource {
  readonly delivery = 'queue';
  private readonly command: Redis;
  private readonly keys: ListKeys;
  private readonly consumerTtlMs: number;
  private recoveryTimer: ReturnType<typeof setInterval> | undefined;
  private readonly heartbeat: ListHeartbeat;
  private readonly pool: BlockingPool;
  private readonly takers = new Map<string, ListTaker>();
  private readonly subscriptions = new Set<ListSubscription>();
  private readonly keyCheck: ListKeyCheck;
  private readonly ping: SharedPing;
  /** Publishes that wait for replicas go through their own connection, since WAIT holds it (see ReplicatedWriter). */
  private readonly replicated: { connection: RedisClient; writer: ReplicatedWriter } | undefined;

  constructor(private readonly settings: RedisListSettings) {
    this.command = openRedisConnection(settings, 'command') as Redis;
    this.ping = new SharedPing(this.command, READY_TIMEOUT_MS, PING_FRESH_MS);
    this.keys = new ListKeys(settings.keyPrefix, targetOf(settings).kind === 'cluster');
    const policy = settings.replication;
    if (policy !== undefined && policy.replicas > 0) {
      const connection = openRedisConnection(settings, 'publish', policy.timeoutMs);
      this.replicated = { connection, writer: new ReplicatedWriter(connection, policy) };
    }
    this.consumerTtlMs = settings.consumerTtlMs ?? 15_000;
    this.heartbeat = new ListHeartbeat(this.command, this.keys, this.consumerTtlMs);
    this.pool = new BlockingPool(settings, settings.maxBlockingConnections ?? 32);
    this.keyCheck = new ListKeyCheck((key, type) => settings.onFault?.('Redis queue key is not a list; streams of its topic are refused', { key, type }));
  }

  async publish(topic: string, message: OutgoingMessage): Promise<{ id: string }> {
    const id = randomUUID();
    const item = encodeListEnvelope({ event: message.event ?? 'message', data: message.data, id });
    const command = pushCommand(this.keys, topic, item, id, message.key, this.settings.idempotencyTtlSeconds);
    let stored: unknown;
    try {
      stored = await this.push(command);
    } catch (error) {
      // Items wait in the list until a stream takes them: with no reader, a queue fills Redis up to its maxmemory.
      throw publishFailure(error, this.settings.onOutOfMemory);
    }
    // With a key, the script answers the id of the first item pushed with it (a repeated publish stores nothing).
    return { id: message.key === undefined ? id : String(stored) };
  }

  private async push(command: ReturnType<typeof pushCommand>): Promise<unknown> {
    if (this.replicated === undefined) return (await connected(this.command)).call(...command);
    await connected(this.replicated.connection);
    return this.replicated.writer.write((pipeline) => void pipeline.call(...command));
  }

  /** `INFO memory`: used_memory and maxmemory, or undefined when Redis does not answer within a second. */
  memoryUsage(): Promise<SourceMemory | undefined> {
    return memoryUsage(this.command);
  }

  async *consume(topics: readonly string[], signal: AbortSignal, options: ConsumeOptions = {}): AsyncGenerator<Delivery> {
    this.startRecovery();
    const takers: ListTaker[] = [];
    try {
      for (const topic of topics) takers.push(await this.takerFor(topic));
      const subscription = new ListSubscription(takers, options.holdAfterStopMs);
      this.subscriptions.add(subscription);
      try {
        yield* subscription.deliveries(signal);
      } finally {
        this.subscriptions.delete(subscription);
      }
    } catch (error) {
      if (!isWrongTypeError(error)) throw error;
      // Recorded (log, metric, readiness) and turned into the error the session ends the stream with.
      await this.keyCheck.assertLists(this.command, topics.map((topic) => this.keys.queue(topic)));
      throw error;
    } finally {
      for (const taker of takers) taker.leave();
    }
  }

  // The topic's taker, or a new one; a subscriber arriving while the old one retires waits the moment that takes.
  private async takerFor(topic: string): Promise<ListTaker> {
    for (;;) {
      const taker = this.takers.get(topic);
      if (taker === undefined) {
        const fresh = new ListTaker(topic, this.takerContext);
        fresh.enter();
        this.takers.set(topic, fresh);
        return fresh;
      }
      if (taker.enter()) return taker;
      await Promise.race([taker.retired, pause(50)]);
    }
  }

  private get takerContext(): TakerContext {
    const { blockMs, maxMessageBytes, onInvalidEntry } = this.settings;
    return {
      command: this.command, keys: this.keys, pool: this.pool, heartbeat: this.heartbeat, blockMs, maxMessageBytes, onInvalidEntry,
      onRetired: (taker) => void (this.takers.get(taker.topic) === taker && this.takers.delete(taker.topic)),
    };
  }

  /**
   * Removes items by handle from the processing list of the consumer that holds them, in whichever process it runs.
   * Each removal is retried once on a connection found dead (a Lambda sandbox thawed after a Redis restart learns of it
   * only here): removing by hash is idempotent, and a 503 would leave the item to come back although Redis was there.
   */
  async acknowledge(topic: string, handles: readonly string[]): Promise<number> {
    // One script per holding process (a handle names it), each scanning that process's list once for all its handles.
    const byList = new Map<string, { markers: string[]; hashes: string[] }>();
    let removed = 0;
    for (const handle of handles) {
      const parsed = parseQueueHandle(handle);
      const part = parsed?.topic === topic ? HANDLE_PART.exec(parsed.part) : null;
      if (part === null) continue;
      const processing = this.keys.processing(topic, part[1] as string);
      let list = byList.get(processing);
      if (list === undefined) byList.set(processing, (list = { markers: [], hashes: [] }));
      list.markers.push(this.keys.ackMarker(topic, part[0]));
      list.hashes.push(part[2] as string);
    }
    for (const [processing, { markers, hashes }] of byList) {
      removed += Number(await retryOnStale(this.command, async () =>
        (await connected(this.command)).eval(ACK_BY_HASHES_SCRIPT, 1 + markers.length, processing, ...markers, ACK_MARKER_TTL_MS, ...hashes)));
    }
    return handles.length - removed;
  }

  /**
   * Moves the items of every consumer whose heartbeat has expired back to its queue. Runs once per consumer TTL in every
   * process that has consumers; the move is atomic per list, so concurrent passes never duplicate an item.
   * Resolves with the number of items moved.
   */
  async recover(): Promise<number> {
    let moved = 0;
    const redis = await connected(this.command);
    const topicsKey = this.keys.topics;
    const registries = topicsKey === undefined ? [this.keys.registry('')] : (await redis.smembers(topicsKey)).map((topic) => this.keys.registry(topic));
    for (const registry of registries) {
      for (const processing of await redis.smembers(registry)) {
        const owner = this.keys.parseProcessing(processing);
        if (owner === undefined) continue;
        const args = [processing, this.keys.queue(owner.topic), this.keys.heartbeat(owner.topic, owner.consumerId), registry];
        moved += Math.max(0, Number(await redis.eval(RECOVER_SCRIPT, 4, ...args)));
      }
    }
    return moved;
  }

  private startRecovery(): void {
    if (this.recoveryTimer !== undefined) return;
    const pass = (): void => void this.recover().catch(() => undefined);
    this.recoveryTimer = setInterval(pass, this.consumerTtlMs);
    this.recoveryTimer.unref?.();
    pass();
  }

  /** Redis answers, and every queue of the subscription is a list (or does not exist yet). */
  async check(topics: readonly string[]): Promise<void> {
    if (!(await this.ping.answers())) {
      throw new RelayError('source_unavailable', 'Redis does not answer PING', { retryAfterSeconds: 5 });
    }
    await this.keyCheck.assertLists(this.command, topics.map((topic) => this.keys.queue(topic)));
  }

  /** Redis answers PING and no queue key known to hold another type still does. */
  async isReady(): Promise<boolean> {
    return (await this.ping.answers()) && (await this.keyCheck.allLists(this.command).catch(() => false));
  }

  /**
   * Before a Lambda sandbox freezes: waits until every topic no stream reads any more has retired, i.e. its last BLMOVE
   * was answered and its processing list went back to the queue. Frozen, a BLMOVE still blocking would move the next
   * item into a list that no other process may take back while this sandbox's heartbeat lives.
   */
  async settle(): Promise<void> {
    // The ended streams release what they held in the promise jobs that follow the end.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await Promise.all([...this.takers.values()].filter((taker) => taker.unused).map((taker) => taker.retired));
  }

  /**
   * Waits (at most 3 s) for every subscriber to release what it holds and for the processing lists to go back to their
   * queues, then disconnects: a clean shutdown leaves nothing for another process's recovery pass to find 15–30 s later.
   * The heartbeat goes first, so an item that a BLMOVE in flight moves after the hand-back is recovered by another
   * process at once.
   */
  async close(): Promise<void> {
    clearInterval(this.recoveryTimer);
    const handedBack = (async () => {
      await Promise.all([...this.subscriptions].map((subscription) => subscription.end()));
      this.pool.close();
      const takers = [...this.takers.values()];
      await this.heartbeat.end(takers.map((taker) => taker.topic));
      await Promise.all(takers.map((taker) => taker.close()));
    })().catch(() => undefined);
    await Promise.race([handedBack, pause(HAND_BACK_MS)]);
    this.command.disconnect();
    this.replicated?.connection.disconnect();
  }
}
