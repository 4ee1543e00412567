import type { Delivery } from '../source.js';

interface Waiting {
  delivery: Delivery;
  at: number;
}

/**
 * QUEUE_ACK=auto with QUEUE_SETTLE_MS: the messages one stream wrote in the last `settleMs`, each acknowledged once the
 * connection stayed open that long after its write. A client that closes (a tab closed, `EventSource.close()`, a
 * navigation) discards what it had not read yet, and its reset reaches the server within a round trip, so what was
 * written in that time is released instead of lost (measured in docs/queues.md). When the stream ends, `finish`
 * acknowledges them (the server ended it, and the client reads what came before the end) or releases them for another
 * subscriber (the client left). One timer per stream, only while something waits.
 */
export class SettlingAcks {
  private readonly waiting: Waiting[] = [];
  private readonly acking = new Set<Promise<void>>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Once the stream ended: whether what it wrote counts as read (see finish). */
  private ended: { delivered: boolean } | undefined;

  /**
   * @param isOpen whether the connection is still open (checked when a message is due).
   * @param onError told about an acknowledgement the source did not take (the message then stays held, and the
   *   source's recovery or visibility timeout brings it back: a duplicate, never a loss).
   * @param settleMs QUEUE_SETTLE_MS, milliseconds.
   */
  constructor(private readonly isOpen: () => boolean, private readonly onError: (error: unknown) => void, private readonly settleMs: number) {}

  /** A message whose frame the open socket accepted just now. */
  add(delivery: Delivery): void {
    if (this.ended !== undefined) {
      this.settle(delivery, this.ended.delivered);
      return;
    }
    this.waiting.push({ delivery, at: Date.now() });
    this.schedule();
  }

  /** The stream ended: what waits is acknowledged (`delivered`) or released; resolves once the source answered. */
  async finish(delivered: boolean): Promise<void> {
    this.ended ??= { delivered };
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const { delivery } of this.waiting.splice(0)) this.settle(delivery, this.ended.delivered);
    await Promise.all([...this.acking]);
  }

  private schedule(): void {
    const first = this.waiting[0];
    if (this.timer !== undefined || first === undefined) return;
    this.timer = setTimeout(() => this.ackDue(), Math.max(0, first.at + this.settleMs - Date.now()));
    this.timer.unref?.();
  }

  private ackDue(): void {
    this.timer = undefined;
    // A close the event loop has not reported yet ends the stream in a moment, and finish() releases these then.
    if (this.ended !== undefined || !this.isOpen()) return;
    // Oldest first: the due ones are a prefix, taken in one splice (a busy stream may hold thousands).
    const dueBefore = Date.now() - this.settleMs;
    let due = 0;
    while (due < this.waiting.length && (this.waiting[due] as Waiting).at <= dueBefore) due += 1;
    for (const { delivery } of this.waiting.splice(0, due)) this.settle(delivery, true);
    this.schedule();
  }

  private settle(delivery: Delivery, delivered: boolean): void {
    const settling = (delivered ? delivery.ack() : delivery.release()).catch(this.onError);
    this.acking.add(settling);
    void settling.finally(() => this.acking.delete(settling));
  }
}
