import { boundedWait, type BoundedWait } from '../../bounded-wait.js';
import type { Delivery } from '../../source.js';
import type { ListDelivery } from './list-delivery.js';
import type { ListTaker, Waiter } from './list-taker.js';

/**
 * One subscriber of SOURCE=redis-list: asks the takers of its topics for one item at a time (the stream pulls the next
 * only once it has room: QUEUE_PREFETCH, or one in flight), and releases whatever it was handed and did not settle when
 * it ends, so the next subscriber gets it at once (or, asked to hold it, once the hold is over: see ConsumeOptions).
 */
export class ListSubscription {
  private readonly held = new Set<ListDelivery>();
  private stopWaiting: (() => void) | undefined;
  private ending: Promise<void> | undefined;
  /** Set while the end holds what was handed; ended at once when nothing is left or the source closes. */
  private hold: BoundedWait | undefined;
  private turn = 0;

  constructor(private readonly takers: readonly ListTaker[], private readonly holdAfterStopMs: () => number = () => 0) {}

  /** Yields deliveries until `signal` aborts (or the source closes); rejects when a queue key has the wrong type. */
  async *deliveries(signal: AbortSignal): AsyncGenerator<Delivery> {
    // Ends at once, not when the generator is next resumed: the stream may sit in a write for a while, and a shutdown
    // closes Redis soon after the streams end.
    const onAbort = (): void => void this.end(this.holdAfterStopMs());
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        const delivery = await this.next();
        if (delivery === undefined) break;
        yield delivery;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      // The same end as the abort's (a hold it began goes on); ended any other way, what it holds goes back now.
      await this.end(signal.aborted ? this.holdAfterStopMs() : 0);
    }
  }

  /**
   * Stops waiting and gives back, newest first (so the oldest is taken first again), what it holds: after `holdMs`, or
   * as soon as nothing is held, when asked to hold it. Once; a later call with 0 (the source closing) ends the hold.
   */
  end(holdMs = 0): Promise<void> {
    if (holdMs === 0) this.hold?.end();
    this.ending ??= (async () => {
      this.stopWaiting?.();
      if (holdMs > 0 && this.held.size > 0) {
        this.hold = boundedWait(holdMs);
        await this.hold.over;
        this.hold = undefined;
      }
      for (const delivery of [...this.held].reverse()) await delivery.release().catch(() => undefined);
    })();
    return this.ending;
  }

  // Waits on every topic at once; the first taker with an item serves it, and the wait is withdrawn from the others.
  private next(): Promise<ListDelivery | undefined> {
    if (this.ending !== undefined) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let done = false;
      const withdraw = (): void => {
        done = true;
        this.stopWaiting = undefined;
        for (const taker of this.takers) taker.unwait(waiter);
      };
      const waiter: Waiter = {
        give: (delivery) => {
          if (done) return false;
          withdraw();
          this.held.add(delivery);
          delivery.whenSettled(() => {
            this.held.delete(delivery);
            if (this.held.size === 0) this.hold?.end();
          });
          resolve(delivery);
          return true;
        },
        fail: (error) => void (done || (withdraw(), reject(error))),
      };
      this.stopWaiting = () => void (done || (withdraw(), resolve(undefined)));
      // A different first topic each time, so one busy topic's item in hand does not always win.
      this.turn += 1;
      for (let i = 0; i < this.takers.length && !done; i++) this.takers[(this.turn + i) % this.takers.length]?.wait(waiter);
    });
  }
}
