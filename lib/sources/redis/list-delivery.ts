import type { Delivery } from '../../source.js';

/** What a delivery needs from the taker that took its item (see ListTaker). */
export interface DeliveryOwner {
  /** Removes the item from the process's processing list for good. */
  removeItem(item: Buffer): Promise<unknown>;
  /** Removes the item its browser acknowledged by `handle`, at most once per handle, whichever process took it first. */
  removeAcknowledged(item: Buffer, handle: string): Promise<unknown>;
  /** Puts the item back at the consuming end of its queue, unless it left the processing list already. */
  returnItem(item: Buffer): Promise<unknown>;
  /** Whether the item is still in the processing list. */
  holdsItem(item: Buffer): Promise<boolean>;
  /** The delivery is settled; `sure` is false when Redis did not answer, so the item may still be in the list. */
  settled(delivery: ListDelivery, sure: boolean): void;
}

/** The fields a subscriber sees. */
export type DeliveryFields = Pick<Delivery, 'topic' | 'id' | 'handle' | 'event' | 'data'>;

/**
 * One item of a redis-list topic handed to one subscriber of this process. It settles once: acknowledged (removed),
 * released (back to the queue), or found gone (acknowledged by handle through another process, or moved back by a
 * recovery pass); its taker counts it until then, so that nothing it holds is mistaken for an orphan.
 */
export class ListDelivery implements Delivery {
  readonly topic: string;
  readonly id: string;
  readonly handle: string;
  readonly event: string;
  readonly data: string;
  private state: 'held' | 'settling' | 'settled' = 'held';
  private readonly listeners: (() => void)[] = [];

  constructor(readonly item: Buffer, readonly sha: string, fields: DeliveryFields, private readonly owner: DeliveryOwner) {
    ({ topic: this.topic, id: this.id, handle: this.handle, event: this.event, data: this.data } = fields);
  }

  /** Whether nothing settled it yet (no ack or release started). */
  get held(): boolean {
    return this.state === 'held';
  }

  /** Calls `listener` once the delivery is settled. */
  whenSettled(listener: () => void): void {
    if (this.state === 'settled') listener();
    else this.listeners.push(listener);
  }

  ack(): Promise<void> {
    return this.settle(() => this.owner.removeItem(this.item));
  }

  acknowledgeHandle(): Promise<void> {
    return this.settle(() => this.owner.removeAcknowledged(this.item, this.handle));
  }

  release(): Promise<void> {
    return this.settle(() => this.owner.returnItem(this.item));
  }

  async isHeld(): Promise<boolean> {
    if (this.state === 'settled') return false;
    const held = await this.owner.holdsItem(this.item);
    if (!held && this.state === 'held') this.finish(true);
    return held;
  }

  // A second ack or release, or one after the item was found gone, does nothing: the item is no longer ours.
  private async settle(command: () => Promise<unknown>): Promise<void> {
    if (this.state !== 'held') return;
    this.state = 'settling';
    try {
      await command();
    } catch (error) {
      this.finish(false);
      throw error;
    }
    this.finish(true);
  }

  private finish(sure: boolean): void {
    this.state = 'settled';
    this.owner.settled(this, sure);
    for (const listener of this.listeners.splice(0)) listener();
  }
}
