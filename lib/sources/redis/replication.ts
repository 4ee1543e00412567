import { Cluster } from 'ioredis';
import { RelayError } from '../../errors.js';
import type { RedisClient } from './connection.js';

/** REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS. */
export interface ReplicationPolicy {
  /** Replicas that must hold a write before it is acknowledged; 0 = no WAIT. */
  replicas: number;
  /** Longest WAIT, ms. */
  timeoutMs: number;
}

// Publishes waiting for replicas at once, per process. WAIT holds its connection, so while replicas lag, appends queue
// behind it; beyond this many a publish is refused at once instead of queueing without bound.
const MAX_WAITING = 256;

/**
 * Runs a write and then `WAIT replicas timeout` on the same connection, in one pipeline (in a cluster ioredis sends the
 * whole pipeline to the node owning the write's slot, which is where WAIT must go). WAIT covers every earlier write of
 * the connection, so when it reports enough replicas the write is on them. Otherwise the write may or may not survive a
 * failover, so the publish is refused with `not_replicated` (503): the client retries with the same `id`, the
 * idempotency marker returns the first id, and WAIT runs again for it.
 */
export class ReplicatedWriter {
  private waiting = 0;

  constructor(private readonly connection: RedisClient, private readonly policy: ReplicationPolicy) {}

  /** Adds the write to `pipeline` via `write`, then WAITs; resolves with the write's reply. */
  async write(write: (pipeline: ReturnType<RedisClient['pipeline']>) => void): Promise<unknown> {
    if (this.waiting >= MAX_WAITING) throw this.refused(`${MAX_WAITING} publishes are already waiting for replicas`);
    this.waiting += 1;
    try {
      const [written, waited] = await this.writeAndWait(write);
      if (written?.[0]) throw written[0];
      if (waited?.[0]) throw waited[0];
      const acknowledged = Number(waited?.[1]);
      if (!(acknowledged >= this.policy.replicas)) {
        throw this.refused(`${acknowledged} of ${this.policy.replicas} replicas acknowledged within ${this.policy.timeoutMs} ms`);
      }
      return written?.[1];
    } finally {
      this.waiting -= 1;
    }
  }

  /**
   * One pipeline of the write and WAIT. ioredis follows a cluster's MOVED for a pipeline only when every command in it
   * failed alike, and WAIT (no key) succeeds on the node that lost the slot, so after a reshard every publish to the moved
   * slot would fail for good on this connection's stale slot map (found by the cluster load run, bench/cluster-load.ts).
   * A MOVED write was not executed: refresh the slot map and send the pipeline once more.
   */
  private async writeAndWait(write: (pipeline: ReturnType<RedisClient['pipeline']>) => void) {
    for (let attempt = 1; ; attempt++) {
      const pipeline = this.connection.pipeline();
      write(pipeline);
      pipeline.call('WAIT', this.policy.replicas, this.policy.timeoutMs);
      const replies = (await pipeline.exec()) ?? [];
      const error = replies[0]?.[0];
      const cluster = this.connection;
      if (attempt > 1 || !(cluster instanceof Cluster) || error?.message.startsWith('MOVED ') !== true) return replies;
      await new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve()));
    }
  }

  private refused(why: string): RelayError {
    return new RelayError('not_replicated', `the write is not confirmed on REDIS_WAIT_REPLICAS replicas: ${why}`, { retryAfterSeconds: 1 });
  }
}
