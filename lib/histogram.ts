/**
 * A fixed-bucket histogram of plain numbers (Prometheus semantics: each bucket counts observations ≤ its bound, the
 * `+Inf` bucket is `count`). Observing is a short scan and two adds; nothing is allocated.
 */
export class Histogram {
  /** Observations per bucket, not cumulative; index `bounds.length` holds those above the last bound. */
  private readonly counts: number[];
  sum = 0;
  count = 0;

  /** @param bounds upper bounds, ascending (seconds for the *_seconds histograms). */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }

  /** Cumulative counts per bound (`le`), as Prometheus exposes them; the `+Inf` bucket is `count`. */
  cumulative(): number[] {
    let running = 0;
    return this.bounds.map((_bound, i) => (running += this.counts[i] as number));
  }
}
