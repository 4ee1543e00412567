import type { StreamKeys } from './stream-keys.js';

// The check and the append are one atomic step: two publishes with the same key can never both append. KEYS: stream,
// marker. ARGV: maxlen, ttl seconds (of the marker), event, data, key, and optionally the stream's TTL in seconds
// (REDIS_STREAM_TTL_S; absent or 0 = leave the stream's expiry alone, -1 = remove it). Returns the stream id (the
// first one for a repeated key).
export const PUBLISH_ONCE_SCRIPT = `
local earlier = redis.call('GET', KEYS[2])
if earlier then return earlier end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[3], 'data', ARGV[4], 'key', ARGV[5])
redis.call('SET', KEYS[2], id, 'EX', ARGV[2])
local streamTtl = tonumber(ARGV[6] or '0')
if streamTtl > 0 then redis.call('EXPIRE', KEYS[1], streamTtl) elseif streamTtl < 0 then redis.call('PERSIST', KEYS[1]) end
return id`;

// XADD and the stream's TTL renewal in one step (REDIS_STREAM_TTL_S; ARGV[4] seconds, or -1: remove the expiry).
export const APPEND_WITH_TTL = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[2], 'data', ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) else redis.call('PERSIST', KEYS[1]) end
return id`;

/** An append as one Redis command and its arguments, for `redis.call(...)` or a pipeline. */
export type AppendCommand = [command: 'XADD' | 'EVAL', ...args: (string | number)[]];

/**
 * The one command of an append to a topic's stream, as the relay's publish and the producer library's Redis transport
 * both send it: XADD, or a script that also renews the stream's TTL (`streamTtlSeconds` > 0, when a renewal is due, see
 * StreamTtlRenewals; PERSIST for -1) and, with an idempotency key, checks and sets its marker (docs/redis.md).
 */
export function appendCommand(
  keys: StreamKeys,
  topic: string,
  entry: { event: string; data: string; key: string | undefined },
  limits: { maxLen: number; idempotencyTtlSeconds: number },
  streamTtlSeconds: number,
): AppendCommand {
  const stream = keys.stream(topic);
  if (entry.key !== undefined) {
    return ['EVAL', PUBLISH_ONCE_SCRIPT, 2, stream, keys.marker(topic, entry.key), limits.maxLen, limits.idempotencyTtlSeconds, entry.event, entry.data, entry.key, streamTtlSeconds];
  }
  if (streamTtlSeconds === 0) return ['XADD', stream, 'MAXLEN', '~', limits.maxLen, '*', 'event', entry.event, 'data', entry.data];
  return ['EVAL', APPEND_WITH_TTL, 1, stream, limits.maxLen, entry.event, entry.data, streamTtlSeconds];
}
