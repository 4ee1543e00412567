import { answersPing, type RedisClient } from './connection.js';

/**
 * "Does Redis answer?" for many callers at once: every stream that opens on a queue asks it, and /readyz does. One PING
 * is in flight at a time and its answer is shared, and a PONG stands for `freshMs` while the connection stays ready.
 * A deploy that moves 1,500 clients at once used to send 1,500 PINGs on the one command connection; with the event
 * loop busy opening streams, replies came later than the deadline and healthy opens were refused with 503.
 */
export class SharedPing {
  private inFlight: Promise<boolean> | undefined;
  private answeredAt = -Infinity;

  constructor(
    private readonly redis: RedisClient,
    private readonly timeoutMs: number,
    private readonly freshMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  answers(): Promise<boolean> {
    // A connection that dropped since the last PONG is not trusted on that PONG's word.
    if (this.redis.status === 'ready' && this.now() - this.answeredAt < this.freshMs) return Promise.resolve(true);
    this.inFlight ??= answersPing(this.redis, this.timeoutMs).then((answered) => {
      if (answered) this.answeredAt = this.now();
      this.inFlight = undefined;
      return answered;
    });
    return this.inFlight;
  }
}
