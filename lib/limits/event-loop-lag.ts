/** How often the loop is sampled, ms. */
const SAMPLE_MS = 50;

/**
 * How late the event loop runs, from a timer that should fire every 50 ms: the delay of its last firing, or, while it
 * has not fired for longer than that, the time it is overdue now. Runtime-free (a timer and the clock); only the
 * container starts one, because a Lambda invocation serves one stream.
 */
export class EventLoopLag {
  private lastLagMs = 0;
  private expectedAt = performance.now() + SAMPLE_MS;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor() {
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref?.();
  }

  private sample(): void {
    const now = performance.now();
    this.lastLagMs = Math.max(0, now - this.expectedAt);
    this.expectedAt = now + SAMPLE_MS;
  }

  /** The current lag, ms. */
  get ms(): number {
    return Math.max(this.lastLagMs, performance.now() - this.expectedAt);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
