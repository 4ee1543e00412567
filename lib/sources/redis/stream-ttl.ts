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

  /** @param ttlSeconds REDIS_STREAM_TTL_S; 0 = never expire (no renewals). */
  constructor(private readonly ttlSeconds: number, private readonly now: () => number = Date.now) {}

  /** Whether the next append to `topic` must renew the TTL. */
  due(topic: string): boolean {
    if (this.ttlSeconds === 0) return false;
    const last = this.renewedAt.get(topic);
    return last === undefined || this.now() - last >= this.ttlSeconds * 100;
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
