// A log-bucketed latency histogram (about 1% resolution from 10 µs to ~1,000 s) that merges across processes.

const MIN_MS = 0.01;
const GROWTH = 1.01;
const BUCKETS = Math.ceil(Math.log(1e6 / MIN_MS) / Math.log(GROWTH)) + 1;
const LOG_GROWTH = Math.log(GROWTH);

/** Counts of latencies (ms) by bucket, plus the exact max. */
export class Histogram {
  constructor() {
    this.counts = new Uint32Array(BUCKETS);
    this.total = 0;
    this.max = 0;
  }

  record(ms) {
    const index = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.counts[index] += 1;
    this.total += 1;
    if (ms > this.max) this.max = ms;
  }

  /** A compact form for IPC: only the non-empty buckets. */
  toJSON() {
    const buckets = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] !== 0) buckets.push([i, this.counts[i]]);
    return { buckets, total: this.total, max: this.max };
  }

  merge(json) {
    for (const [i, count] of json.buckets) this.counts[i] += count;
    this.total += json.total;
    if (json.max > this.max) this.max = json.max;
  }

  /** The latency (ms, upper edge of its bucket) below which `q` (0–1) of the samples lie; 0 when empty. */
  quantile(q) {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, MIN_MS * GROWTH ** i);
    }
    return this.max;
  }
}
