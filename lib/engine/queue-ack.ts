import { boundedWait, type BoundedWait } from '../bounded-wait.js';
import type { Delivery } from '../source.js';

/** QUEUE_ACK, QUEUE_ACK_TIMEOUT_MS and QUEUE_PREFETCH (see QueueConfig). */
export interface QueueAckOptions {
  mode: 'auto' | 'client';
  timeoutMs: number;
  prefetch: number;
  /** QUEUE_ACK=auto: how long the connection must stay open after a write before its message is removed, ms. */
  settleMs: number;
  /** QUEUE_ACK=client: how long what a stream the server ended held stays held for acknowledgements on their way, ms. */
  graceMs?: number;
}

/** The defaults: acknowledged once the frame was accepted by the open socket. */
export const AUTO_ACK: QueueAckOptions = { mode: 'auto', timeoutMs: 30_000, prefetch: 10, settleMs: 0 };

// While a stream's window is full, how often it asks the source whether a held message was acknowledged through
// another process (always the case on Lambda, where POST /ack reaches another sandbox).
const HELD_POLL_MS = 500;

/** Which stream of this process holds which handle, so `POST /ack` reaches it directly. */
export class AckRegistry {
  private readonly windows = new Map<string, AckWindow>();

  register(handle: string, window: AckWindow): void {
    this.windows.set(handle, window);
  }

  forget(handle: string, window: AckWindow): void {
    if (this.windows.get(handle) === window) this.windows.delete(handle);
  }

  /** Acknowledges a message held by a stream of this process; false when no stream here holds `handle`. */
  async acknowledge(handle: string): Promise<boolean> {
    const window = this.windows.get(handle);
    if (window === undefined) return false;
    await window.acknowledge(handle);
    return true;
  }

  /** Handles held right now (metrics, tests). */
  get size(): number {
    return this.windows.size;
  }
}

interface Held {
  delivery: Delivery;
  timer: ReturnType<typeof setTimeout>;
}

/** What a window tells its stream. */
export interface AckWindowEvents {
  /** A message was acknowledged by the client (counts as activity for SESSION_IDLE_MS). */
  onAck(): void;
  /** A message stayed unacknowledged for QUEUE_ACK_TIMEOUT_MS: the stream ends, like a RabbitMQ consumer timeout. */
  onTimeout(delivery: Delivery): void;
}

/**
 * The messages one stream wrote under QUEUE_ACK=client and the browser has not acknowledged yet: at most `prefetch`,
 * each released for redelivery after `timeoutMs` or when the stream ends.
 */
export class AckWindow {
  private readonly held = new Map<string, Held>();
  private wake: (() => void) | undefined;
  private poller: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** Set while releaseAll waits out its grace, which ends once nothing is held. */
  private grace: BoundedWait | undefined;

  constructor(private readonly registry: AckRegistry, private readonly options: QueueAckOptions, private readonly events: AckWindowEvents) {}

  /** Holds a message whose frame is about to be written; call before the write, so an early ack finds it. */
  hold(delivery: Delivery): void {
    const timer = setTimeout(() => void this.expire(delivery.handle), this.options.timeoutMs);
    timer.unref?.();
    this.held.set(delivery.handle, { delivery, timer });
    this.registry.register(delivery.handle, this);
  }

  /** The client acknowledged `handle`: the message is removed from the queue for good. */
  async acknowledge(handle: string): Promise<void> {
    const held = this.take(handle);
    if (held === undefined) return;
    this.events.onAck();
    await (held.delivery.acknowledgeHandle?.() ?? held.delivery.ack());
  }

  /** Gives one message back (its write failed). */
  async release(handle: string): Promise<void> {
    await this.take(handle)?.delivery.release();
  }

  /** Resolves once fewer than `prefetch` messages are unacknowledged (or the window closed). */
  room(): Promise<void> {
    if (this.held.size < this.options.prefetch || this.closed) return Promise.resolve();
    this.poller ??= setInterval(() => void this.pollHeld(), HELD_POLL_MS);
    this.poller.unref?.();
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** The stream ended: stop waiting for room (the consumer loop then sees its signal and stops). */
  close(): void {
    this.closed = true;
    this.signalRoom();
  }

  /**
   * The stream ended: everything unacknowledged goes back to the queue, after `graceMs` (or as soon as nothing is left)
   * when the server ended it and its browser's acknowledgements may still be on their way.
   */
  async releaseAll(graceMs = 0): Promise<void> {
    this.closed = true;
    this.signalRoom();
    if (graceMs > 0 && this.held.size > 0) {
      this.grace = boundedWait(graceMs);
      await this.grace.over;
      this.grace = undefined;
    }
    const all = [...this.held.keys()].map((handle) => this.take(handle));
    await Promise.all(all.map((held) => held?.delivery.release().catch(() => undefined)));
  }

  private take(handle: string): Held | undefined {
    const held = this.held.get(handle);
    if (held === undefined) return undefined;
    clearTimeout(held.timer);
    this.held.delete(handle);
    this.registry.forget(handle, this);
    if (this.held.size < this.options.prefetch) this.signalRoom();
    if (this.held.size === 0) this.grace?.end();
    return held;
  }

  private signalRoom(): void {
    clearInterval(this.poller);
    this.poller = undefined;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  // A message acknowledged through another process is not ours to time out: it only left this window unnoticed.
  private async expire(handle: string): Promise<void> {
    const held = this.held.get(handle);
    if (held === undefined) return;
    if (await this.stillHeld(held.delivery)) {
      if (this.held.has(handle)) this.events.onTimeout(held.delivery);
    } else if (this.take(handle) !== undefined) this.events.onAck();
  }

  private async pollHeld(): Promise<void> {
    for (const [handle, held] of [...this.held]) {
      if (!(await this.stillHeld(held.delivery)) && this.take(handle) !== undefined) this.events.onAck();
    }
  }

  // When the source cannot tell (Redis or SQS away), the message counts as held: never drop one on a guess.
  private stillHeld(delivery: Delivery): Promise<boolean> {
    return delivery.isHeld().catch(() => true);
  }
}
