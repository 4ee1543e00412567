import { requireRedisTopology, type Config, type RedisTopology } from '../lib/config/index.js';
import type { RedisConfig } from '../lib/config/index.js';
import type { RedisConnectionSettings } from '../lib/sources/redis/connection.js';
import type { InvalidEntry } from '../lib/sources/redis/entry.js';
import { RedisListSource } from '../lib/sources/redis/list.js';
import { RedisStreamSource } from '../lib/sources/redis/stream.js';
import type { SourceHooks } from './source-hooks.js';

/** SOURCE=redis (streams, broadcast) and SOURCE=redis-list (queue), from REDIS_* and MAX_MESSAGE_BYTES. */
export function buildRedisSource(config: Config, hooks: SourceHooks = {}): RedisStreamSource | RedisListSource {
  // loadConfig has checked it already; this only narrows the type, with the same rule and message.
  const target = requireRedisTopology(config.redis, `SOURCE=${config.server.source}`);
  return config.server.source === 'redis-list'
    ? new RedisListSource({ ...commonSettings(config.redis, target, config.server.maxMessageBytes, hooks), replication: replicationOf(config.redis) })
    : buildRedisStreamSource(config.redis, target, config.server.maxMessageBytes, hooks);
}

/** The stream source of SOURCE=redis, and of the SQS → Redis bridge whatever SOURCE says. */
export function buildRedisStreamSource(redis: RedisConfig, target: RedisTopology, maxMessageBytes: number, hooks: SourceHooks = {}): RedisStreamSource {
  return new RedisStreamSource({
    ...commonSettings(redis, target, maxMessageBytes, hooks),
    maxLen: redis.maxLen,
    replication: replicationOf(redis),
    streamTtlSeconds: redis.streamTtlSeconds,
  });
}

// REDIS_WAIT_REPLICAS / REDIS_WAIT_TIMEOUT_MS: both sources wait for replicas on publish.
function replicationOf(redis: RedisConfig): { replicas: number; timeoutMs: number } {
  return { replicas: redis.waitReplicas, timeoutMs: redis.waitTimeoutMs };
}

function commonSettings(redis: RedisConfig, target: RedisTopology, maxMessageBytes: number, hooks: SourceHooks) {
  return {
    ...connectionSettings(hooks),
    target,
    keyPrefix: redis.keyPrefix,
    blockMs: redis.blockMs,
    maxMessageBytes,
    idempotencyTtlSeconds: redis.idempotencyTtlSeconds,
    onOutOfMemory: () => hooks.metrics?.inc('sse_redis_oom_errors_total'),
    onInvalidEntry: (entry: InvalidEntry): void => {
      hooks.metrics?.inc('sse_invalid_messages_total');
      hooks.logger?.warn({ topic: entry.topic, position: entry.position, reason: entry.reason }, 'Redis entry skipped: not in the documented format');
    },
    onFault: (message: string, details: Record<string, unknown>): void => {
      hooks.metrics?.inc('sse_source_errors_total');
      hooks.logger?.error(details, message);
    },
  };
}

// While Redis is away every connection fails about once a second; one log line per distinct failure is enough.
function connectionSettings(hooks: SourceHooks): Pick<RedisConnectionSettings, 'onConnectionError'> {
  let last = '';
  return {
    onConnectionError: (error, role) => {
      const text = `${role}: ${error.message}`;
      if (text === last) return;
      last = text;
      hooks.logger?.warn({ role, err: error }, 'Redis connection error; reconnecting');
    },
  };
}
