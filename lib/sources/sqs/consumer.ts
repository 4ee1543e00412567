import { boundedWait, type BoundedWait } from '../../bounded-wait.js';
import { queueHandle } from '../../queue-handle.js';
import type { Delivery } from '../../source.js';
import type { Received, ReceiverSubscriber, SqsReceiver } from './receiver.js';
import type { SqsBatcher } from './batcher.js';

export type { InvalidMessage } from './receiver.js';

/**
 * One stream's subscription to the process's receivers of its queues: takes the messages of its topics as they arrive
 * and, when it stops (the stream ended or the source closes), releases at once (visibility 0) everything it took and did
 * not acknowledge, so another subscriber gets it without waiting out the visibility timeout. Asked to hold it after the
 * stream's end (ConsumeOptions), it releases it once the hold is over or nothing is left; the source closing ends the
 * hold. Meanwhile the receiver keeps extending what is held.
 */
export class SqsConsumer implements ReceiverSubscriber {
  /** Deliveries taken and not yet acked or released, by receipt handle. */
  private readonly taken = new Map<string, { receiver: SqsReceiver; received: Received }>();
  private readonly stop = new AbortController();
  private wakeReader: (() => void) | undefined;
  /** Set while a stop holds what was taken; ended (and what is left released) when nothing is, or the source closes. */
  private hold: BoundedWait | undefined;

  /**
   * @param signal the subscriber's signal, and `closing` the source's; either stops this consumer. (Not combined with
   *   AbortSignal.any: on Node 20 its result may be garbage-collected with its listeners before it fires.)
   * @param holdAfterStopMs asked when the subscriber's signal stops it: how long to hold what it took (0: release now).
   */
  constructor(
    readonly topics: readonly string[],
    private readonly receivers: readonly SqsReceiver[],
    private readonly deleter: SqsBatcher,
    private readonly releaser: SqsBatcher,
    signal: AbortSignal,
    private readonly closing: AbortSignal,
    private readonly holdAfterStopMs: () => number = () => 0,
  ) {
    const stop = (): void => this.stop.abort();
    // Released the moment the subscriber leaves, even while the session is still inside a write: the port's contract.
    this.stop.signal.addEventListener('abort', () => {
      for (const s of [signal, closing]) s.removeEventListener('abort', stop);
      this.onStop(closing.aborted ? 0 : this.holdAfterStopMs());
    }, { once: true });
    for (const s of [signal, closing]) {
      if (s.aborted) stop();
      else s.addEventListener('abort', stop, { once: true });
    }
  }

  wake(): void {
    const reader = this.wakeReader;
    this.wakeReader = undefined;
    reader?.();
  }

  async *deliveries(): AsyncGenerator<Delivery> {
    if (!this.stop.signal.aborted) for (const receiver of this.receivers) receiver.subscribe(this);
    try {
      for (;;) {
        const failed = this.receivers.find((receiver) => receiver.failure !== undefined);
        if (failed !== undefined) throw failed.failure;
        if (this.stop.signal.aborted) return;
        const next = this.next();
        if (next !== undefined) yield next;
        else await new Promise<void>((resolve) => (this.wakeReader = resolve));
      }
    } finally {
      this.stop.abort();
    }
  }

  private next(): Delivery | undefined {
    for (const receiver of this.receivers) {
      const received = receiver.take(this.topics);
      if (received === undefined) continue;
      this.taken.set(received.held.receiptHandle, { receiver, received });
      return this.delivery(receiver, received, received.topic);
    }
    return undefined;
  }

  private onStop(holdMs: number): void {
    for (const receiver of this.receivers) receiver.unsubscribe(this);
    this.wake();
    if (holdMs > 0 && this.taken.size > 0) {
      const endOnClose = (): void => this.hold?.end();
      // Released in the same turn as the end: the source's close flushes its releases right after aborting `closing`.
      this.hold = boundedWait(holdMs, () => {
        this.closing.removeEventListener('abort', endOnClose);
        this.hold = undefined;
        this.releaseTaken();
      });
      this.closing.addEventListener('abort', endOnClose, { once: true });
      return;
    }
    this.releaseTaken();
  }

  private releaseTaken(): void {
    for (const { receiver, received } of this.taken.values()) {
      if (receiver.forget(received.held.receiptHandle)) this.releaser.add(received.held.queueUrl, received.held);
    }
    this.taken.clear();
    void this.releaser.flush();
  }

  // A delivery settled (or found gone): a hold waiting on what is taken ends once nothing is.
  private forgetTaken(receiptHandle: string): void {
    this.taken.delete(receiptHandle);
    if (this.taken.size === 0) this.hold?.end();
  }

  private delivery(receiver: SqsReceiver, received: Received, topic: string): Delivery {
    const { held } = received;
    let acked = false;
    return {
      topic, id: held.messageId, handle: queueHandle(topic, `${held.messageId}~${held.receiptHandle}`), event: received.event, data: received.data,
      // Deleted even when already released by a stop: its frame was written, and a receipt handle that another
      // receive replaced no longer deletes anything, so this can only save a duplicate.
      ack: async () => {
        this.forgetTaken(held.receiptHandle);
        receiver.forget(held.receiptHandle);
        if (!acked) this.deleter.add(held.queueUrl, held);
        acked = true;
      },
      release: async () => {
        this.forgetTaken(held.receiptHandle);
        if (receiver.forget(held.receiptHandle)) this.releaser.add(held.queueUrl, held);
      },
      isHeld: async () => {
        if (!this.taken.has(held.receiptHandle)) return false;
        const still = await receiver.isHeld(held);
        if (!still) this.forgetTaken(held.receiptHandle);
        return still;
      },
    };
  }
}
