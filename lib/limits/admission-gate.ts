import { RelayError } from '../errors.js';

/** When new streams are refused for overload (see ServerConfig: OVERLOAD_LAG_MS, ADMISSION_RATE_PER_S). */
export interface AdmissionOptions {
  /** Refuse while the event loop lags more than this, ms; 0 = never. */
  lagMs: number;
  /** Most new streams per second (a bucket that holds one second's worth); 0 = no bound. */
  ratePerSecond: number;
  /** The current event-loop lag, ms. */
  currentLagMs: () => number;
  /** Why memory refuses new streams now (MemoryPressure.refusal), or undefined. */
  memoryRefusal?: () => string | undefined;
  /** Spread of the Retry-After given to refused streams, ms. Default 1000–6000. */
  retryMinMs?: number;
  retryMaxMs?: number;
  random?: () => number;
  now?: () => number;
}

const NOTHING_TAKEN = (): void => undefined;

/**
 * Admission for new streams under a reconnect storm. A process that accepts faster than it can serve lets its event
 * loop fall behind; the kernel's accept queue then fills and SYNs are dropped, which clients retry on TCP's backoff
 * (1, 3, 7, 15 s…). Refusing early with a cheap answer and a jittered delay keeps the queue short and spreads the
 * clients' next attempts instead.
 */
export class AdmissionGate {
  private tokens: number;
  private refilledAt: number;
  private readonly now: () => number;

  constructor(private readonly options: AdmissionOptions) {
    this.now = options.now ?? (() => performance.now());
    this.tokens = options.ratePerSecond;
    this.refilledAt = this.now();
  }

  /**
   * Takes a slot for one new stream, or throws `overloaded` with a jittered Retry-After. Returns the function that gives
   * the slot back when the stream is refused after all (bad topic, token, cursor…): otherwise anyone could keep everyone
   * else out with a flow of requests that are refused anyway.
   */
  admit(): () => void {
    const { lagMs, ratePerSecond } = this.options;
    const memory = this.options.memoryRefusal?.();
    if (memory !== undefined) throw this.refusal(memory);
    if (lagMs > 0) {
      const lag = this.options.currentLagMs();
      if (lag > lagMs) throw this.refusal(`event loop lags ${Math.round(lag)} ms (OVERLOAD_LAG_MS ${lagMs})`);
    }
    if (ratePerSecond <= 0) return NOTHING_TAKEN;
    const now = this.now();
    this.tokens = Math.min(ratePerSecond, this.tokens + ((now - this.refilledAt) * ratePerSecond) / 1_000);
    this.refilledAt = now;
    if (this.tokens < 1) throw this.refusal(`more than ADMISSION_RATE_PER_S (${ratePerSecond}) new streams`);
    this.tokens -= 1;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.tokens = Math.min(ratePerSecond, this.tokens + 1);
    };
  }

  private refusal(why: string): RelayError {
    const { retryMinMs = 1_000, retryMaxMs = 6_000, random = Math.random } = this.options;
    const retryAfterMs = Math.round(retryMinMs + (retryMaxMs - retryMinMs) * random());
    return new RelayError('overloaded', `new stream refused: ${why}`, { retryAfterSeconds: Math.ceil(retryAfterMs / 1_000), retryAfterMs });
  }
}
