/**
 * Bytes of request bodies a process holds at once while they arrive (MAX_BODY_BYTES_IN_FLIGHT). Each body is bounded
 * (MAX_BODY_BYTES) and has a deadline (REQUEST_TIMEOUT_MS), but connections are not: without a bound over all of them,
 * 10,000 clients each stalling one byte short of a 128 KiB body would hold 1.3 GB until their deadlines. A body that
 * would go past the bound is refused at once (503, Retry-After) and gives back what it had taken.
 */
export class BodyBudget {
  private used = 0;

  /** @param maxBytes bytes all bodies together may hold. */
  constructor(private readonly maxBytes: number) {}

  /**
   * Takes `bytes` for a body, or false when that would go past the bound. When nothing else is held it always succeeds,
   * so a body larger than the whole bound (a configuration with MAX_BODY_BYTES above it) is still served, one at a time.
   */
  take(bytes: number): boolean {
    if (!this.fits(bytes)) return false;
    this.used += bytes;
    return true;
  }

  /** Whether `bytes` more would be taken now (a declared length, checked before the body is asked for). */
  fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.maxBytes;
  }

  /** Gives back bytes taken, once the body was read or refused, or its connection closed. */
  give(bytes: number): void {
    this.used -= bytes;
  }

  /** Bytes held now (metrics, tests). */
  get heldBytes(): number {
    return this.used;
  }

  /** The bound, for error messages. */
  get limitBytes(): number {
    return this.maxBytes;
  }
}
