import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { queueHandle } from '../../queue-handle.js';
import { pause } from './connection.js';
import { parseListEnvelope, type InvalidEntryListener } from './entry.js';
import { ListDelivery, type DeliveryOwner } from './list-delivery.js';
import type { ListHeartbeat } from './list-heartbeat.js';
import { isWrongTypeError } from './list-key-check.js';
import type { ListKeys } from './list-keys.js';
import { ListMoves, sha1 } from './list-moves.js';
import type { BlockingPool } from './list-pool.js';

/** A subscriber waiting for its next item (see ListSubscription); one waiter may wait on several takers. */
export interface Waiter {
  /** Hands it a delivery; false when it no longer waits (the taker then offers the delivery to the next one). */
  give(delivery: ListDelivery): boolean;
  /** Ends its wait with an error retrying cannot fix (a queue key of the wrong type). */
  fail(error: unknown): void;
}

/** What every taker of a source shares. */
export interface TakerContext {
  command: Redis;
  keys: ListKeys;
  pool: BlockingPool;
  heartbeat: ListHeartbeat;
  blockMs: number;
  maxMessageBytes: number;
  onInvalidEntry?: InvalidEntryListener | undefined;
  /** The taker retired (no local subscriber, nothing held): the source forgets it. */
  onRetired(taker: ListTaker): void;
}

// While other takers wait for a blocking connection, a holder blocks at most this long before passing it on.
const CONTENDED_BLOCK_MS = 250;
// Most items one TAKE_SOME_SCRIPT moves: a backlog is taken this many at a time, at most one per waiting subscriber.
const BATCH = 64;
// A BLMOVE answered faster than this did not wait: the queue had items, and probably has more.
const BACKLOG_HINT_MS = 5;
// An item taken for a subscriber that meanwhile got one from another topic waits this long for the next local subscriber
// before it goes back to the queue.
const HOLD_MS = 1_000;
// Numbers the deliveries of this process, so that two items with the same bytes (same SHA-1) still get two handles: a
// stream under QUEUE_ACK=client holds its messages by handle, and a shared one would count them as one (QUEUE_PREFETCH).
let deliveries = 0;

/**
 * The one consumer of a redis-list topic in this process, for all of the topic's local subscribers: `BLMOVE`s from the
 * queue into the process's processing list only while some subscriber waits for an item (so at most one item in flight
 * beyond what subscribers hold), and hands each item to the longest-waiting one. Redis work per message does not depend
 * on the number of subscribers, and the process holds one blocking connection per topic being taken from (from a bounded
 * pool), not one per subscriber.
 */
export class ListTaker implements DeliveryOwner {
  private readonly waiters = new Set<Waiter>();
  private users = 0;
  private state: 'open' | 'retiring' | 'retired' = 'open';
  private running: Promise<void> | undefined;
  private registered = false;
  /** Items taken and not settled, by SHA-1: what this process knows it holds of the topic. */
  private readonly counts = new Map<string, number>();
  /** Items found in the processing list that nobody here holds (a lost BLMOVE reply, a failed ack). */
  private readonly orphans: Buffer[] = [];
  private sweepDue = false;
  /** The last take left subscribers waiting and may have left items in the queue: take several at once next. */
  private backlog = false;
  private inHand: { delivery: ListDelivery; timer: ReturnType<typeof setTimeout> } | undefined;
  private readonly moves: ListMoves;
  private markRetired: () => void = () => undefined;
  /** Resolves once the taker retired; a subscriber that arrives meanwhile asks the source for a new one. */
  readonly retired = new Promise<void>((resolve) => (this.markRetired = resolve));

  constructor(readonly topic: string, private readonly context: TakerContext) {
    this.moves = new ListMoves(context.command, context.keys, topic, context.heartbeat.processId);
  }

  /** One more local subscriber; false when the taker is retiring (wait for `retired`, then ask the source again). */
  enter(): boolean {
    if (this.state !== 'open') return false;
    this.users += 1;
    return true;
  }

  /** True while no local subscriber uses this taker: it retires once its BLMOVE in flight (if any) has been answered. */
  get unused(): boolean {
    return this.users === 0;
  }

  /** A subscriber left, after releasing what it held. */
  leave(): void {
    this.users -= 1;
    void this.tryRetire();
  }

  /** Serves `waiter` now from an item in hand, or queues it (FIFO) and takes for it. */
  wait(waiter: Waiter): void {
    const inHand = this.inHand;
    if (inHand !== undefined) {
      clearTimeout(inHand.timer);
      this.inHand = undefined;
      if (waiter.give(inHand.delivery)) return;
      this.offer(inHand.delivery);
    }
    this.waiters.add(waiter);
    this.ensureRunning();
  }

  unwait(waiter: Waiter): void {
    this.waiters.delete(waiter);
  }

  removeItem(item: Buffer): Promise<unknown> {
    return this.moves.remove(item);
  }

  removeAcknowledged(item: Buffer, handle: string): Promise<unknown> {
    return this.moves.removeAcknowledged(item, handle.slice(this.topic.length + 1));
  }

  returnItem(item: Buffer): Promise<unknown> {
    return this.moves.putBack(item);
  }

  holdsItem(item: Buffer): Promise<boolean> {
    return this.moves.holds(item);
  }

  settled(delivery: ListDelivery, sure: boolean): void {
    this.count(delivery.sha, -1);
    // Redis did not answer: the item may still be in the processing list, held by nobody. The next sweep adopts it.
    if (!sure) this.sweepDue = true;
    if (this.users === 0) void this.tryRetire();
  }

  private ensureRunning(): void {
    if (this.running !== undefined || this.state !== 'open') return;
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.waiters.size > 0) this.ensureRunning();
      else void this.tryRetire();
    });
  }

  private async run(): Promise<void> {
    let connection: Redis | undefined;
    let failures = 0;
    try {
      while (this.waiters.size > 0 && this.state === 'open') {
        try {
          await this.prepare();
          const orphan = this.orphans.shift();
          if (orphan !== undefined) {
            this.handOut(orphan);
            continue;
          }
          connection ??= await this.context.pool.acquire();
          await this.takeRound(connection);
          failures = 0;
          if (this.context.pool.contended) {
            // Another topic waits for a connection: pass this one on and queue again behind it.
            this.context.pool.release(connection);
            connection = undefined;
          }
        } catch (error) {
          if (this.state !== 'open') break;
          // Retrying cannot fix a key of the wrong type: the streams end and their reconnects get a clear 503.
          if (isWrongTypeError(error)) return this.failWaiters(error);
          failures += 1;
          // The move may have happened with only its reply lost: the item then waits in the processing list.
          this.sweepDue = true;
          await pause(Math.min(100 * failures, 1_000));
        }
      }
    } finally {
      if (connection !== undefined) this.context.pool.release(connection);
    }
  }

  // Registered (heartbeat) before the first take, so an item taken by a process that dies is always found again.
  private async prepare(): Promise<void> {
    if (!this.registered) {
      await this.context.heartbeat.join(this.topic);
      this.registered = true;
    }
    if (this.sweepDue) {
      this.sweepDue = false;
      await this.adoptOrphans();
    }
  }

  // One BLMOVE, or under a backlog one batch of up to one item per waiting subscriber.
  private async takeRound(connection: Redis): Promise<void> {
    const { blockMs, pool } = this.context;
    const wanted = Math.min(this.waiters.size, BATCH);
    const batch = this.backlog && wanted > 1;
    const started = performance.now();
    const waitMs = pool.contended ? Math.min(blockMs, CONTENDED_BLOCK_MS) : blockMs;
    const items = await this.moves.take(connection, batch ? { count: wanted } : { waitMs });
    for (const item of items) this.handOut(item);
    // More may wait in the queue after a full batch, or after a BLMOVE that did not block; a mostly empty queue keeps
    // costing one BLMOVE per item and no probe.
    const more = batch ? items.length === wanted : items.length > 0 && performance.now() - started < BACKLOG_HINT_MS;
    this.backlog = more && this.waiters.size > 1;
  }

  /** Items in the processing list nobody here holds: taken, but never handed out. Runs only between takes. */
  private async adoptOrphans(): Promise<void> {
    for (const item of await this.moves.uncounted(this.counts)) {
      if (!this.orphans.some((orphan) => orphan.equals(item))) this.orphans.push(item);
    }
  }

  private handOut(item: Buffer): void {
    const envelope = parseListEnvelope(item, this.context.maxMessageBytes);
    const sha = sha1(item);
    this.count(sha, 1);
    if (typeof envelope === 'string') return void this.setAside(item, sha, envelope);
    deliveries += 1;
    const handle = queueHandle(this.topic, `${this.context.heartbeat.processId}~${sha}~${deliveries.toString(36)}`);
    this.offer(new ListDelivery(item, sha, { topic: this.topic, id: envelope.id ?? randomUUID(), handle, event: envelope.event, data: envelope.data }, this));
  }

  // To the longest-waiting subscriber; with none left, held a moment for the next, then back to the queue.
  private offer(delivery: ListDelivery): void {
    for (const waiter of this.waiters) {
      this.waiters.delete(waiter);
      if (waiter.give(delivery)) return;
    }
    if (this.inHand !== undefined || this.state !== 'open') return void delivery.release().catch(() => undefined);
    const timer = setTimeout(() => this.dropInHand(), HOLD_MS);
    timer.unref?.();
    this.inHand = { delivery, timer };
  }

  private dropInHand(): void {
    const inHand = this.inHand;
    this.inHand = undefined;
    if (inHand === undefined) return;
    clearTimeout(inHand.timer);
    void inHand.delivery.release().catch(() => undefined);
  }

  // Set aside rather than dropped or retried: it would fail the same way for every subscriber, for ever.
  private async setAside(item: Buffer, sha: string, reason: string): Promise<void> {
    await this.moves.setAside(item).catch(() => undefined);
    this.count(sha, -1);
    this.context.onInvalidEntry?.({ topic: this.topic, position: '?', reason });
  }

  private failWaiters(error: unknown): void {
    for (const waiter of [...this.waiters]) {
      this.waiters.delete(waiter);
      waiter.fail(error);
    }
  }

  private count(sha: string, by: number): void {
    const next = (this.counts.get(sha) ?? 0) + by;
    if (next > 0) this.counts.set(sha, next);
    else this.counts.delete(sha);
  }

  /**
   * Once no local subscriber is left and nothing taken is held (and no BLMOVE is in flight), the processing list goes
   * back to the queue and is unregistered. If Redis does not answer, the taker stays and tries again later.
   */
  private async tryRetire(): Promise<void> {
    if (this.users > 0 || this.running !== undefined || this.state !== 'open') return;
    if (this.inHand !== undefined) return this.dropInHand();
    if (this.counts.size > 0) return;
    this.state = 'retiring';
    this.context.heartbeat.leave(this.topic);
    try {
      if (this.registered) await this.moves.handBack(true);
    } catch {
      [this.state, this.registered] = ['open', false];
      const retry = setTimeout(() => void this.tryRetire(), 1_000);
      retry.unref?.();
      return;
    }
    this.state = 'retired';
    this.context.onRetired(this);
    this.markRetired();
  }

  /** The source is closing: stop taking; what the processing list holds goes back (see RedisListSource.close). */
  async close(): Promise<void> {
    this.state = 'retired';
    this.waiters.clear();
    this.dropInHand();
    this.markRetired();
    if (this.registered) await this.moves.handBack(false);
  }
}
