import type { Config } from '../lib/config/index.js';
import type { RedisConnectionSettings } from '../lib/sources/redis/connection.js';
import type { InvalidEntry } from '../lib/sources/redis/entry.js';
import { RedisListSource } from '../lib/sources/redis/list.js';
import { RedisStreamSource } from '../lib/sources/redis/stream.js';
import type { SourceHooks } from './build-sqs-source.js';

/** SOURCE=redis (streams, broadcast) and SOURCE=redis-list (queue), from REDIS_* and MAX_MESSAGE_BYTES. */
export function buildRedisSource(config: Config, hooks: SourceHooks = {}): RedisStreamSource | RedisListSource {
  const target = config.redis.topology;
  if (target === undefined) throw new Error(`REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES must be set for SOURCE=${config.server.source}`);
  const settings = {
    ...connectionSettings(hooks),
    target,
    keyPrefix: config.redis.keyPrefix,
    blockMs: config.redis.blockMs,
    maxMessageBytes: config.server.maxMessageBytes,
    onInvalidEntry: (entry: InvalidEntry): void => {
      hooks.metrics?.inc('sse_invalid_messages_total');
      hooks.logger?.warn({ topic: entry.topic, position: entry.position, reason: entry.reason }, 'Redis entry skipped: not in the documented format');
    },
    onFault: (message: string, details: Record<string, unknown>): void => {
      hooks.metrics?.inc('sse_source_errors_total');
      hooks.logger?.error(details, message);
    },
  };
  const replication = { replicas: config.redis.waitReplicas, timeoutMs: config.redis.waitTimeoutMs };
  return config.server.source === 'redis-list'
    ? new RedisListSource({ ...settings, replication })
    : new RedisStreamSource({
      ...settings, maxLen: config.redis.maxLen, replication, streamTtlSeconds: config.redis.streamTtlSeconds,
      onOutOfMemory: () => hooks.metrics?.inc('sse_redis_oom_errors_total'),
    });
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
