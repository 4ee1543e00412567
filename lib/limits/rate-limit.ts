import { RelayError } from '../errors.js';

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const NOTHING_TAKEN = (): void => undefined;

/**
 * A token bucket per key (the token's subject, or the client address when auth is off): `perMinute` requests a minute
 * on average, bursts of up to `perMinute`. The map is bounded: past `maxKeys` the least recently used key is forgotten
 * (it starts again with a full bucket), so a flood of distinct keys costs memory `maxKeys` deep and no more.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  /**
   * @param perMinute requests per minute per key; 0 turns the limiter off.
   * @param maxKeys most keys remembered at once. Default 10000.
   * @param now clock, epoch ms (tests pass a fake one).
   * @param variable the setting behind `perMinute`, named in the refusal.
   */
  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
    private readonly variable = 'PUBLISH_RATE_PER_MINUTE',
  ) {
    this.perMs = perMinute / 60_000;
  }

  /**
   * Takes one request from `key`'s bucket, or throws `rate_limited` with the seconds until one is available. Returns
   * the function that gives it back (once), for a request the server then failed through no fault of the caller.
   */
  take(key: string): () => void {
    if (this.perMinute === 0) return NOTHING_TAKEN;
    const bucket = this.refusingEmpty(key);
    bucket.tokens -= 1;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      // A bucket forgotten meanwhile (past maxKeys) starts full again anyway.
      bucket.tokens = Math.min(this.perMinute, bucket.tokens + 1);
    };
  }

  /** Throws `rate_limited` while `key`'s bucket is empty, without taking from it (see charge). */
  assertAvailable(key: string): void {
    if (this.perMinute !== 0) this.refusingEmpty(key);
  }

  /**
   * Takes `count` from `key`'s bucket after the fact, for a cost known only once the request was served. The bucket
   * may go below zero, by one minute's worth at most: later requests are refused until the refill has paid it back.
   */
  charge(key: string, count: number): void {
    if (this.perMinute === 0 || count <= 0) return;
    const bucket = this.refilled(key);
    bucket.tokens = Math.max(-this.perMinute, bucket.tokens - count);
  }

  // The key's bucket, refilled to now and made the most recently used; throws `rate_limited` when it holds less than 1.
  private refusingEmpty(key: string): Bucket {
    const bucket = this.refilled(key);
    if (bucket.tokens < 1) {
      const waitSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000));
      throw new RelayError('rate_limited', `${this.variable} (${this.perMinute}) exceeded`, { retryAfterSeconds: waitSeconds });
    }
    return bucket;
  }

  private refilled(key: string): Bucket {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, updatedAt: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.updatedAt) * this.perMs);
    bucket.updatedAt = now;
    // Re-inserting keeps Map order = least recently used first, which is what eviction takes.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return bucket;
  }

  /** Keys currently remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }
}
