/**
 * When each stream gets its heartbeat. A period is cut into slots, about one per tick, and streams are dealt to slots in
 * turn as they open. Each tick then writes to one slot's streams, not to all of them: at 19,000 streams one pass wrote
 * all 19,000 (about 0.25 s during which no event went out); now each tick writes about 19,000 ÷ slots. Every stream
 * still gets a heartbeat once a period, and never more than a period after it opened, and a wave of reconnects (a
 * deploy, a proxy restart) lands evenly on the slots instead of all on one tick.
 */
export class HeartbeatSlots {
  readonly count: number;
  private readonly stepMs: number;
  private nextSlot = 0;
  private nextDueAt: number;
  private dealt = 0;
  /** Which slots are due on the current tick (reused: no allocation per tick). */
  private readonly due: boolean[];

  constructor(
    private readonly periodMs: number,
    private readonly tickMs: number,
    now: number,
  ) {
    this.count = Math.max(1, Math.round(periodMs / tickMs));
    this.stepMs = periodMs / this.count;
    this.due = new Array<boolean>(this.count).fill(false);
    // Slot 0 is due one step from now and the last a whole period from now: the first round covers every stream.
    this.nextDueAt = now + this.stepMs;
  }

  /** The slot of a stream that opens now: round-robin, so streams spread evenly whenever they open. */
  deal(): number {
    const slot = this.dealt;
    this.dealt = (this.dealt + 1) % this.count;
    return slot;
  }

  /**
   * Marks the slots due at `now` and returns how many rounds that completed (a round: every slot once, i.e. every
   * stream one heartbeat). A slot is due on the tick nearest its time; each next one is a step after the previous due
   * time, not after `now`, so tick delays do not add up. After a stall longer than a period every slot is due once and
   * the schedule starts again from `now`, rather than firing the missed rounds in a burst.
   */
  advance(now: number): number {
    this.due.fill(false);
    let rounds = 0;
    if (now - this.nextDueAt >= this.periodMs) {
      this.due.fill(true);
      this.nextSlot = 0;
      this.nextDueAt = now + this.stepMs;
      return 1;
    }
    while (now >= this.nextDueAt - this.tickMs / 2) {
      this.due[this.nextSlot] = true;
      this.nextSlot += 1;
      if (this.nextSlot === this.count) {
        this.nextSlot = 0;
        rounds += 1;
      }
      this.nextDueAt += this.stepMs;
    }
    return rounds;
  }

  /** Whether `slot` is due on the tick `advance` was last called for. */
  isDue(slot: number): boolean {
    return this.due[slot] === true;
  }
}
