import { queueHandle } from '../../queue-handle.js';
import type { Delivery } from '../../source.js';
import type { Received, ReceiverSubscriber, SqsReceiver } from './receiver.js';
import type { SqsBatcher } from './batcher.js';

export type { InvalidMessage } from './receiver.js';

/**
 * One stream's subscription to the process's receivers of its queues: takes the messages of its topics as they arrive
 * and, when it stops (the stream ended or the source closes), releases at once (visibility 0) everything it took and did
 * not acknowledge, so another subscriber gets it without waiting out the visibility timeout.
 */
export class SqsConsumer implements ReceiverSubscriber {
  /** Deliveries taken and not yet acked or released, by receipt handle. */
  private readonly taken = new Map<string, { receiver: SqsReceiver; received: Received }>();
  private readonly stop = new AbortController();
  private wakeReader: (() => void) | undefined;

  /**
   * @param signals the subscriber's signal and the source's closing signal; either stops this consumer. (Not combined
   *   with AbortSignal.any: on Node 20 its result may be garbage-collected with its listeners before it fires.)
   */
  constructor(
    readonly topics: readonly string[],
    private readonly receivers: readonly SqsReceiver[],
    private readonly deleter: SqsBatcher,
    private readonly releaser: SqsBatcher,
    signals: readonly AbortSignal[],
  ) {
    const stop = (): void => this.stop.abort();
    // Released the moment the subscriber leaves, even while the session is still inside a write: the port's contract.
    this.stop.signal.addEventListener('abort', () => {
      for (const signal of signals) signal.removeEventListener('abort', stop);
      this.onStop();
    }, { once: true });
    for (const signal of signals) {
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
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

  private onStop(): void {
    for (const receiver of this.receivers) receiver.unsubscribe(this);
    for (const { receiver, received } of this.taken.values()) {
      if (receiver.forget(received.held.receiptHandle)) this.releaser.add(received.held.queueUrl, received.held);
    }
    this.taken.clear();
    void this.releaser.flush();
    this.wake();
  }

  private delivery(receiver: SqsReceiver, received: Received, topic: string): Delivery {
    const { held } = received;
    let acked = false;
    return {
      topic, id: held.messageId, handle: queueHandle(topic, `${held.messageId}~${held.receiptHandle}`), event: received.event, data: received.data,
      // Deleted even when already released by a stop: its frame was written, and a receipt handle that another
      // receive replaced no longer deletes anything, so this can only save a duplicate.
      ack: async () => {
        this.taken.delete(held.receiptHandle);
        receiver.forget(held.receiptHandle);
        if (!acked) this.deleter.add(held.queueUrl, held);
        acked = true;
      },
      release: async () => {
        this.taken.delete(held.receiptHandle);
        if (receiver.forget(held.receiptHandle)) this.releaser.add(held.queueUrl, held);
      },
      isHeld: async () => {
        if (!this.taken.has(held.receiptHandle)) return false;
        const still = await receiver.isHeld(held);
        if (!still) this.taken.delete(held.receiptHandle);
        return still;
      },
    };
  }
}
