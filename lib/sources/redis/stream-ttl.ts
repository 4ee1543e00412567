/** The stream-TTL argument of appendCommand that removes the key's expiry (REDIS_STREAM_TTL_S=0). */
export const PERSIST = -1;

/** Most topics whose last renewal is remembered; past it the memory starts over (each topic then renews once more). */
const MAX_REMEMBERED = 10_000;

/**
 * When an append must also renew its stream's TTL (REDIS_STREAM_TTL_S). Renewing on every append would add an EXPIRE
 * to every publish; renewing at most once per tenth of the TTL per topic and process keeps a publish at one XADD while
 * a stream still expires between 0.9 × and 1 × the TTL after its last append. Only a successful renewal is
 * remembered, so a key created by a later plain XADD (after a failed first append) still gets its TTL.
 */
export class StreamTtlRenewals {
  private readonly renewedAt = new Map<string, number>();

  /**
   * @param ttlSeconds REDIS_STREAM_TTL_S; 0 = never expire: then the first append to each topic (after each
   * (re)connection) removes an expiry the key may still carry from an earlier REDIS_STREAM_TTL_S, and the others leave
   * it alone.
   */
  constructor(private readonly ttlSeconds: number, private readonly now: () => number = Date.now) {}

  /** Whether the next append to `topic` must renew the TTL (or, with a TTL of 0, remove the key's expiry). */
  due(topic: string): boolean {
    const last = this.renewedAt.get(topic);
    if (this.ttlSeconds === 0) return last === undefined;
    return last === undefined || this.now() - last >= this.ttlSeconds * 100;
  }

  /**
   * The stream-TTL argument of a due append (appendCommand): the TTL, or -1 (PERSIST) for REDIS_STREAM_TTL_S=0. A
   * stream written with a TTL before the variable was set to 0 kept that expiry through every later XADD (seen: TTL
   * 100 s, then 0, appends went on and the key still expired 100 s after the last append made with the TTL).
   */
  get expiryArgument(): number {
    return this.ttlSeconds > 0 ? this.ttlSeconds : PERSIST;
  }

  /**
   * Forgets every renewal: call it when the connection that appends is (re)established. A Redis that restarted without
   * its data, or a replica promoted in its place, holds none of the keys renewed before; the next append recreates
   * each key, and without this it would carry no expiry until the renewal fell due again (0.1 × the TTL later), or for
   * good when nothing else is ever published to that topic (a per-user topic), so Redis filled up anyway.
   */
  forget(): void {
    this.renewedAt.clear();
  }

  /** An append that renewed the TTL of `topic` succeeded. */
  renewed(topic: string): void {
    if (this.renewedAt.size >= MAX_REMEMBERED && !this.renewedAt.has(topic)) this.renewedAt.clear();
    this.renewedAt.set(topic, this.now());
  }
}
