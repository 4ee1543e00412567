import type { EnvReader } from './env-reader.js';

/** Redis settings, used when SOURCE is `redis` or `redis-list` and by the SQS → Redis bridge. */
export interface RedisConfig {
  /** `redis://` or `rediss://` (TLS) URL, with optional `user:password@`. Required for the Redis modes. */
  url: string | undefined;
  /** Prefix of every key sse-relay writes: stream `<prefix><topic>`, list `<prefix>q:<topic>`. Default `sse:`. */
  keyPrefix: string;
  /** Approximate entries kept per stream (`XADD … MAXLEN ~`). Default 10000. */
  maxLen: number;
  /** Longest a blocking read waits before it is re-issued, ms. Bounds every BLOCK so a lost reply cannot hang. Default 5000. */
  blockMs: number;
}

export function readRedisConfig(env: EnvReader): RedisConfig {
  return {
    url: env.url('REDIS_URL', ['redis:', 'rediss:']),
    keyPrefix: env.string('REDIS_KEY_PREFIX', 'sse:'),
    maxLen: env.integer('REDIS_MAXLEN', 10_000, 1),
    blockMs: env.integer('REDIS_BLOCK_MS', 5_000, 100, 60_000),
  };
}
