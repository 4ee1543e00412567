/**
 * The key layout of SOURCE=redis-list (docs/redis.md). Topics never contain `#`, so every key below parses back
 * unambiguously.
 */
export class ListKeys {
  constructor(private readonly prefix: string) {}

  /** The topic's queue: producers LPUSH, consumers take from the right. */
  queue(topic: string): string {
    return `${this.prefix}q:${topic}`;
  }

  /** Items one consumer has taken and not yet acknowledged. */
  processing(topic: string, consumerId: string): string {
    return `${this.prefix}q:${topic}#processing:${consumerId}`;
  }

  /** Items not in the documented format, set aside for a person to look at. */
  invalid(topic: string): string {
    return `${this.prefix}q:${topic}#invalid`;
  }

  /** Exists while the consumer is alive (refreshed with a TTL). */
  heartbeat(consumerId: string): string {
    return `${this.prefix}q#consumer:${consumerId}`;
  }

  /** Set of every processing list, for the recovery pass. */
  get registry(): string {
    return `${this.prefix}q#processing`;
  }

  /** Publish idempotency marker of `key` in `topic`. */
  marker(topic: string, key: string): string {
    return `${this.prefix}q#key#${topic}#${key}`;
  }

  /** The topic and consumer of a processing list key, or undefined when it is not one. */
  parseProcessing(key: string): { topic: string; consumerId: string } | undefined {
    const head = `${this.prefix}q:`;
    const at = key.indexOf('#processing:', head.length);
    if (!key.startsWith(head) || at < 0) return undefined;
    return { topic: key.slice(head.length, at), consumerId: key.slice(at + '#processing:'.length) };
  }
}

/**
 * Moves every item of a processing list back to the consuming end of its queue, oldest last so it is taken first, and
 * forgets the list — unless its consumer's heartbeat still exists. Atomic, so two recovery passes never move one item
 * twice. KEYS: processing, queue, heartbeat, registry. Returns the number moved, or -1 when the consumer is alive.
 */
export const RECOVER_SCRIPT = `
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local moved = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do moved = moved + 1 end
redis.call('SREM', KEYS[4], KEYS[1])
return moved`;

/** LPUSH unless the idempotency marker exists. KEYS: queue, marker. ARGV: item, id, ttl seconds. Returns the id. */
export const PUSH_ONCE_SCRIPT = `
local earlier = redis.call('GET', KEYS[2])
if earlier then return earlier end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return ARGV[2]`;

/**
 * Puts an item back at the consuming end of its queue, but only if it is still in the processing list: an item that
 * was acknowledged elsewhere, or already moved back by a recovery pass, must not come back a second time.
 * KEYS: processing, queue. ARGV: item. Returns 1 when moved, 0 otherwise.
 */
export const RELEASE_SCRIPT = `
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1`;

/**
 * Removes the item whose SHA-1 is ARGV[1] from a processing list (POST /ack by handle, from any process). The list
 * holds at most QUEUE_PREFETCH items plus one in flight, so the scan is short. KEYS: processing. Returns 1 or 0.
 */
export const ACK_BY_HASH_SCRIPT = `
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if redis.sha1hex(item) == ARGV[1] then return redis.call('LREM', KEYS[1], 1, item) end
end
return 0`;
