/**
 * The key layout of SOURCE=redis (docs/redis.md "Key layout"). On one server or a Sentinel-managed primary: stream
 * `<prefix><topic>`, idempotency marker `<prefix>key#<topic>#<key>`. In a Redis Cluster every key of a topic carries
 * the hash tag of the topic's partition, `<prefix>{<tag>}<topic>` and `<prefix>{<tag>}key#<topic>#<key>`: a partition
 * lives in one hash slot, so one `XREAD BLOCK` per partition can read all of its topics (a multi-key command must name
 * keys of one slot), and the idempotency script's two keys are in one slot. Topics never contain `#`, `{` or `}`.
 */
export class StreamKeys {
  private readonly tags: readonly string[] | undefined;

  /** `partitions`: the number of cluster partitions, or undefined on a single server / Sentinel. */
  constructor(private readonly prefix: string, readonly partitions?: number | undefined) {
    this.tags = partitions === undefined ? undefined : partitionTags(partitions);
  }

  /** The partition of `topic` (always 0 outside a cluster): `CLUSTER KEYSLOT <topic>` modulo the partition count. */
  partitionOf(topic: string): number {
    return this.partitions === undefined ? 0 : keySlot(topic) % this.partitions;
  }

  /** The hash tag (without braces) of partition `index`, or undefined outside a cluster. */
  tagOf(index: number): string | undefined {
    return this.tags?.[index];
  }

  private head(topic: string): string {
    const tag = this.tags?.[this.partitionOf(topic)];
    return tag === undefined ? this.prefix : `${this.prefix}{${tag}}`;
  }

  /** The topic's stream. */
  stream(topic: string): string {
    return this.head(topic) + topic;
  }

  /** Publish idempotency marker of `key` in `topic`. */
  marker(topic: string, key: string): string {
    return `${this.head(topic)}key#${topic}#${key}`;
  }

  /** The topic a stream key names (the inverse of stream()). */
  topicOf(key: string): string {
    const start = key.indexOf('}', this.prefix.length);
    return this.tags === undefined || start < 0 ? key.slice(this.prefix.length) : key.slice(start + 1);
  }
}

/** Redis Cluster hash slots. */
export const SLOTS = 16_384;

/**
 * The tag of each partition: the smallest decimal number whose hash slot falls in the partition's share of the 16384
 * slots (partition i owns [i·16384/n, (i+1)·16384/n)), so partitions spread evenly over the cluster's primaries.
 */
export function partitionTags(partitions: number): string[] {
  const tags: string[] = [];
  for (let i = 0; i < partitions; i++) {
    const low = Math.floor((i * SLOTS) / partitions);
    const high = Math.floor(((i + 1) * SLOTS) / partitions);
    let n = 0;
    for (let slot = keySlot('0'); slot < low || slot >= high; slot = keySlot(String(++n)));
    tags.push(String(n));
  }
  return tags;
}

/** The Redis Cluster hash slot of `key`: CRC16 (XMODEM) of the key, or of its `{hash tag}`, modulo 16384. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOTS;
}
