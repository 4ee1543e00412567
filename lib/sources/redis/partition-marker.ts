import type { Cluster } from 'ioredis';
import { withDeadline } from './connection.js';

/**
 * The key that records the REDIS_CLUSTER_PARTITIONS of a key prefix on a Redis Cluster. A topic's stream key carries
 * the hash tag of its partition, `CLUSTER KEYSLOT(topic) mod partitions`, so a relay or producer with another count
 * writes and reads other keys: its messages reach no one, silently. The first relay or producer to connect records its
 * count here; every other one compares. (`#` is not allowed in a topic, so no stream key can be this key.)
 */
export function partitionMarkerKey(keyPrefix: string): string {
  return `${keyPrefix}#cluster-partitions`;
}

/**
 * Records `partitions` for `keyPrefix` if nothing is recorded yet, and returns the count the cluster holds for it when
 * that differs (undefined when they agree). Two round trips at most (SET NX, then GET when it was taken); no expiry,
 * so the record outlives every stream it guards.
 */
export async function recordedPartitions(cluster: Cluster, keyPrefix: string, partitions: number): Promise<string | undefined> {
  const key = partitionMarkerKey(keyPrefix);
  if ((await cluster.set(key, String(partitions), 'NX')) === 'OK') return undefined;
  const recorded = await cluster.get(key);
  // Deleted between the two commands (an operator changing the count): the next check records ours.
  return recorded === null || recorded === String(partitions) ? undefined : recorded;
}

/** The error text for a count that differs from the recorded one; `setting` names where this side's count came from. */
export function partitionMismatch(keyPrefix: string, partitions: number, recorded: string, setting: string): string {
  const key = partitionMarkerKey(keyPrefix);
  return `${setting} is ${partitions} but the cluster's relays and producers of prefix ${JSON.stringify(keyPrefix)} use ${recorded} `
    + `(key ${key}): with different counts they write and read different stream keys and messages are lost. Set ${setting} to ${recorded}; `
    + `to change the count for all of them, stop every relay and producer, delete ${key}, and start them with the new one`;
}

/** How long a mismatch, or a check Redis did not answer, stands before the marker is read again, ms. */
const RECHECK_MS = 5_000;
/** The longest a request waits for the check, ms. */
const CHECK_TIMEOUT_MS = 1_000;

/**
 * The relay's side of the marker, for SOURCE=redis on REDIS_CLUSTER_NODES: checked on every (re)connection and before
 * the first publish, subscription or readiness answer after it. While this process's REDIS_CLUSTER_PARTITIONS differs
 * from the recorded count, {@link assert} throws the mismatch, so publishes, new streams and /readyz answer 503 instead
 * of writing keys no other relay reads; the mismatch is reported once through `report` (the connection error log).
 *
 * A check the cluster does not answer (the marker's slot without a primary, under cluster-require-full-coverage no)
 * lets requests through and is tried again after RECHECK_MS: the topics whose slots are served keep working, as they
 * would without the marker, rather than every request waiting on, or failing with, one unrelated slot.
 */
export class PartitionAgreement {
  private agreed = false;
  private last: { mismatch: Error | undefined; at: number } | undefined;
  private pending: Promise<void> | undefined;

  constructor(private readonly cluster: Cluster, private readonly keyPrefix: string, private readonly partitions: number,
    private readonly report: (error: Error) => void) {
    cluster.on('ready', () => {
      this.agreed = false;
      this.last = undefined;
      void this.assert().catch(() => undefined); // only to report a mismatch at once; requests ask again
    });
  }

  /** Resolves when this process's count agrees with the cluster's record (or the record cannot be read); throws the mismatch. */
  async assert(): Promise<void> {
    if (this.agreed) return;
    if (this.last === undefined || Date.now() - this.last.at >= RECHECK_MS) await (this.pending ??= this.check().finally(() => (this.pending = undefined)));
    if (this.last?.mismatch !== undefined) throw this.last.mismatch;
  }

  private async check(): Promise<void> {
    let recorded: string | undefined;
    try {
      recorded = await withDeadline(CHECK_TIMEOUT_MS, recordedPartitions(this.cluster, this.keyPrefix, this.partitions));
    } catch {
      this.last = { mismatch: undefined, at: Date.now() };
      return;
    }
    const known = this.last?.mismatch !== undefined;
    this.agreed = recorded === undefined;
    const mismatch = recorded === undefined ? undefined : new Error(partitionMismatch(this.keyPrefix, this.partitions, recorded, 'REDIS_CLUSTER_PARTITIONS'));
    this.last = { mismatch, at: Date.now() };
    if (mismatch !== undefined && !known) this.report(mismatch);
  }
}
