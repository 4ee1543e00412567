/**
 * The key layout of SOURCE=redis-list (docs/redis.md). On one server or a Sentinel-managed primary: queue
 * `<prefix>q:<topic>`, one heartbeat per consumer and one registry of processing lists. In a Redis Cluster every key of
 * a topic carries the topic as its hash tag, `<prefix>q:{<topic>}…`, and so do the topic's heartbeats and registry: a
 * script or MULTI may only touch keys of one slot, and BLMOVE's two lists must share one. A set of the topics that have
 * a registry (`<prefix>q#topics`) lets a recovery pass find them. Topics never contain `#`, `{` or `}`, so every key
 * below parses back unambiguously.
 */
export class ListKeys {
  private readonly topicsKey: string;

  /** `clustered`: the Redis Cluster layout (hash tags); otherwise the single-server layout. */
  constructor(private readonly prefix: string, readonly clustered = false) {
    this.topicsKey = `${prefix}q#topics`;
  }

  /** The topic's queue: producers LPUSH, consumers take from the right. */
  queue(topic: string): string {
    return this.clustered ? `${this.prefix}q:{${topic}}` : `${this.prefix}q:${topic}`;
  }

  /** Items one relay process (`consumerId` is its process id) has taken for its subscribers and not yet acknowledged. */
  processing(topic: string, consumerId: string): string {
    return `${this.queue(topic)}#processing:${consumerId}`;
  }

  /** Items not in the documented format, set aside for a person to look at. */
  invalid(topic: string): string {
    return `${this.queue(topic)}#invalid`;
  }

  /** Exists while the process is alive (refreshed with a TTL); per topic in a cluster, so it shares the topic's slot. */
  heartbeat(topic: string, consumerId: string): string {
    return this.clustered ? `${this.queue(topic)}#consumer:${consumerId}` : `${this.prefix}q#consumer:${consumerId}`;
  }

  /** The set of processing lists that holds `topic`'s: one for all topics on one server, one per topic in a cluster. */
  registry(topic: string): string {
    return this.clustered ? `${this.queue(topic)}#processing` : `${this.prefix}q#processing`;
  }

  /** In a cluster, the set of topics that have a registry (undefined on one server, where there is one registry). */
  get topics(): string | undefined {
    return this.clustered ? this.topicsKey : undefined;
  }

  /** Publish idempotency marker of `key` in `topic` (in the queue's slot in a cluster, for PUSH_ONCE_SCRIPT). */
  marker(topic: string, key: string): string {
    return this.clustered ? `${this.queue(topic)}#key#${key}` : `${this.prefix}q#key#${topic}#${key}`;
  }

  /**
   * Marks the acknowledgement of one handle (its source part: `<process>~<SHA-1>~<delivery number>`), in the topic's
   * slot in a cluster; expires after ACK_MARKER_TTL_MS.
   */
  ackMarker(topic: string, handlePart: string): string {
    return `${this.queue(topic)}#acked:${handlePart}`;
  }

  /** The topic and consumer of a processing list key, or undefined when it is not one. */
  parseProcessing(key: string): { topic: string; consumerId: string } | undefined {
    const head = `${this.prefix}q:`;
    const at = key.indexOf('#processing:', head.length);
    if (!key.startsWith(head) || at < 0) return undefined;
    const topic = key.slice(head.length, at);
    const bare = this.clustered ? /^\{([^{}]+)\}$/.exec(topic)?.[1] : topic;
    return bare === undefined ? undefined : { topic: bare, consumerId: key.slice(at + '#processing:'.length) };
  }

  /**
   * Who beats for `topics` together: on one server one heartbeat and one registry cover them all (one MULTI); in a
   * cluster each topic is its own group, in its own slot.
   */
  beatGroups(topics: readonly string[], consumerId: string): { heartbeat: string; registry: string; processing: string[]; topic: string }[] {
    const groups = this.clustered ? topics.map((topic) => [topic]) : [topics];
    return groups.filter((group) => group.length > 0).map((group) => ({
      heartbeat: this.heartbeat(group[0] as string, consumerId),
      registry: this.registry(group[0] as string),
      processing: group.map((topic) => this.processing(topic, consumerId)),
      topic: group[0] as string,
    }));
  }
}

/**
 * Moves every item of a processing list back to the consuming end of its queue, oldest last so it is taken first, and
 * forgets the list — unless its consumer's heartbeat still exists. Atomic, so two recovery passes never move one item
 * twice. KEYS: processing, queue, heartbeat, registry (all of one slot in a cluster: see ListKeys). Returns the number
 * moved, or -1 when the consumer is alive.
 */
export const RECOVER_SCRIPT = `
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local moved = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do moved = moved + 1 end
redis.call('SREM', KEYS[4], KEYS[1])
return moved`;

/**
 * Moves every item of a live process's processing list back to the consuming end of its queue (oldest taken first) and,
 * when ARGV[1] is `1`, unregisters the list. A topic's taker runs it with `1` when its last local subscriber left and
 * nothing it took is held (no BLMOVE can still land there); a closing process runs it with `0`, since a BLMOVE in flight
 * may still land after it: the list stays registered and another process's recovery pass finds such an item once the
 * heartbeat is gone. KEYS: processing, queue, registry. Returns the number moved.
 */
export const HAND_BACK_SCRIPT = `
local moved = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do moved = moved + 1 end
if ARGV[1] == '1' then redis.call('SREM', KEYS[3], KEYS[1]) end
return moved`;

/**
 * Moves up to ARGV[1] items from the consuming end of a queue into a processing list, oldest first, in one command: a
 * taker with several waiting subscribers and a backlog takes them in one round trip instead of one BLMOVE each.
 * KEYS: queue, processing (one slot in a cluster). Returns the moved items, oldest first.
 */
export const TAKE_SOME_SCRIPT = `
local moved = {}
for i = 1, tonumber(ARGV[1]) do
  local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not item then break end
  moved[i] = item
end
return moved`;

// Redis refuses LMOVE, BLMOVE, SET and SADD over maxmemory (noeviction), since each may grow memory, and the scripts
// that start with them; a script flagged allow-oom (Redis 7) may run anyway. Taking and registering grow memory by a few
// bytes at most, and delivering is what frees a Redis a queue filled, so a taker falls back on these when refused.
const ALLOW_OOM = '#!lua flags=allow-oom';

/** TAKE_SOME_SCRIPT, allowed over maxmemory (Redis 7). KEYS: queue, processing. ARGV: most items to move. */
export const TAKE_SOME_OVER_MAXMEMORY_SCRIPT = `${ALLOW_OOM}${TAKE_SOME_SCRIPT}`;

/**
 * The heartbeat and the registration of processing lists (ListHeartbeat's MULTI), allowed over maxmemory (Redis 7).
 * KEYS: heartbeat, registry. ARGV: TTL ms, then the processing lists.
 */
export const BEAT_OVER_MAXMEMORY_SCRIPT = `${ALLOW_OOM}
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return redis.call('SADD', KEYS[2], unpack(ARGV, 2))`;

/** SADD of one member, allowed over maxmemory (Redis 7): a topic joining the cluster's set of topics. KEYS: set. */
export const ADD_OVER_MAXMEMORY_SCRIPT = `${ALLOW_OOM}
return redis.call('SADD', KEYS[1], ARGV[1])`;

/** LPUSH unless the idempotency marker exists. KEYS: queue, marker. ARGV: item, id, ttl seconds. Returns the id. */
export const PUSH_ONCE_SCRIPT = `
local earlier = redis.call('GET', KEYS[2])
if earlier then return earlier end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return ARGV[2]`;

/**
 * The one command that enqueues `item` (whose envelope id is `id`) on `topic`, as the relay's publish and the producer
 * library's Redis transport both send it: LPUSH, or with an idempotency `key` PUSH_ONCE_SCRIPT, which answers the id
 * of the first item pushed with that key.
 */
export function pushCommand(keys: ListKeys, topic: string, item: string, id: string, key: string | undefined, idempotencyTtlSeconds: number): [command: 'LPUSH' | 'EVAL', ...args: (string | number)[]] {
  const queue = keys.queue(topic);
  if (key === undefined) return ['LPUSH', queue, item];
  return ['EVAL', PUSH_ONCE_SCRIPT, 2, queue, keys.marker(topic, key), item, id, idempotencyTtlSeconds];
}

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
 * How long a handle's acknowledgement is remembered, ms. A browser or proxy that sends an acknowledgement again (its
 * answer was lost) within this time removes nothing more; later, a repeat could remove an identical item (same bytes)
 * that another stream holds. 15 minutes: longer than any retry of RelayClient and than a Lambda invocation.
 */
export const ACK_MARKER_TTL_MS = 15 * 60_000;

/**
 * Removes the items of one POST /ack (from any process) from one processing list, by their SHA-1s, once per handle:
 * the marker of a handle (ackMarker) records its acknowledgement, so a repeated one does not remove an identical item
 * (a producer that pushed the same bytes twice) that another stream holds and its browser never handled.
 * The list holds what the process's subscribers of the topic hold (each at most QUEUE_PREFETCH, plus one in flight). It
 * is scanned once for all the handles of the call, one SHA-1 per held item, and the scan stops when every handle has
 * found its item. One script per handle scanned it once per handle: any subscriber of the topic may send up to 100
 * handles it made up per POST /ack, and each made Redis hash the whole list (100 × the items held, per request).
 * Each marker is set after its LREM, not with SET NX before it: a Redis over maxmemory (noeviction) refuses a SET that
 * is a script's first write, but lets a script whose first write (LREM) frees memory finish, and draining the queue is
 * what frees it. It is set only when an item was removed: a marker for every made-up handle held one Redis key for 15
 * minutes (measured: one client made 10,000 keys a second, 2 MB a second of Redis memory). A handle that removed
 * nothing has nothing to guard: its item is not in that list (acknowledged already, which left a marker, or released)
 * or never existed.
 * KEYS: processing, then one marker per handle. ARGV: marker TTL ms, then the SHA-1 of each handle, in KEYS' order.
 * Returns how many items it removed.
 */
export const ACK_BY_HASHES_SCRIPT = `
local wanted, claimed, left = {}, {}, 0
for i = 2, #KEYS do
  local marker = KEYS[i]
  if not claimed[marker] and redis.call('EXISTS', marker) == 0 then
    claimed[marker] = true
    local markers = wanted[ARGV[i]]
    if markers == nil then markers = {} wanted[ARGV[i]] = markers end
    markers[#markers + 1] = marker
    left = left + 1
  end
end
local removed = 0
if left == 0 then return 0 end
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local markers = wanted[redis.sha1hex(item)]
  if markers ~= nil and #markers > 0 then
    removed = removed + redis.call('LREM', KEYS[1], 1, item)
    redis.pcall('SET', table.remove(markers), '1', 'PX', ARGV[1])
    left = left - 1
    if left == 0 then break end
  end
end
return removed`;

/**
 * The holding process's own removal of an acknowledged item (QUEUE_ACK=client), with the same once-per-handle marker as
 * ACK_BY_HASHES_SCRIPT, so that the acknowledgement and a repeat of it through another process remove one item between
 * them. KEYS: processing, marker. ARGV: item, marker TTL ms. Returns 1 or 0.
 */
export const ACK_ONCE_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.pcall('SET', KEYS[2], '1', 'PX', ARGV[2])
return removed`;
