import { ConfigError } from './config-error.js';
import { FIXED_SETTINGS, REDIS_DEFAULTS as D } from './defaults.js';
import type { EnvReader } from './env-reader.js';
import { checkRedisUrl } from './redis-url.js';
import { defaultFor, type Runtime } from './setting.js';

/**
 * The bounds of the Redis numbers a producer writing straight into Redis must match too (publisher/redis-transport.ts
 * checks its options against these), as [least, greatest].
 */
export const REDIS_BOUNDS = {
  REDIS_CLUSTER_PARTITIONS: [1, 1024],
  REDIS_MAXLEN: [1, Number.MAX_SAFE_INTEGER],
  REDIS_WAIT_REPLICAS: [0, 16],
  REDIS_WAIT_TIMEOUT_MS: [1, 60_000],
  REDIS_STREAM_TTL_S: [0, 31_536_000],
} as const satisfies Record<string, readonly [number, number]>;

/** One `host:port` of REDIS_SENTINELS or REDIS_CLUSTER_NODES. */
export interface RedisHostPort {
  host: string;
  port: number;
}

/**
 * Where Redis is: one server (REDIS_URL), a Sentinel-managed primary (REDIS_SENTINELS + REDIS_SENTINEL_NAME) or a
 * Redis Cluster (REDIS_CLUSTER_NODES). Undefined when none is set (only an error for the Redis modes).
 */
export type RedisTopology =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: RedisHostPort[]; name: string; auth: RedisAuth; sentinelPassword: string | undefined }
  | { kind: 'cluster'; nodes: RedisHostPort[]; auth: RedisAuth; partitions: number };

/** Credentials and TLS for Sentinel and Cluster nodes (a REDIS_URL carries its own). */
export interface RedisAuth {
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
}

/** Redis settings, used when SOURCE is `redis` or `redis-list` and by the SQS → Redis bridge. Defaults: REDIS_DEFAULTS. */
export interface RedisConfig {
  /** `redis://` or `rediss://` (TLS) URL, with optional `user:password@`. Set for the single-server topology. */
  url: string | undefined;
  /** The topology chosen by REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES (exactly one may be set). */
  topology: RedisTopology | undefined;
  /** Prefix of every key sse-relay writes: stream `<prefix><topic>`, list `<prefix>q:<topic>`. */
  keyPrefix: string;
  /** Approximate entries kept per stream (`XADD … MAXLEN ~`). */
  maxLen: number;
  /** Longest a blocking read waits before it is re-issued, ms. Bounds every BLOCK so a lost reply cannot hang. */
  blockMs: number;
  /** Replicas that must hold a publish before it is acknowledged (`WAIT`); 0 = the primary's answer is enough. */
  waitReplicas: number;
  /** How long a publish waits for those replicas before it answers 503, ms. */
  waitTimeoutMs: number;
  /**
   * A stream key nothing has been appended to for this long expires (each XADD renews it), seconds; 0 = never. Bounds
   * the keys that per-user topics leave behind.
   */
  streamTtlSeconds: number;
  /** How long a publish idempotency key is remembered, seconds; fixed (FIXED_SETTINGS), not a variable. */
  idempotencyTtlSeconds: number;
}

/** @param runtime `lambda` takes REDIS_BLOCK_MS's Lambda default. */
export function readRedisConfig(env: EnvReader, runtime: Runtime = 'container'): RedisConfig {
  const url = env.url('REDIS_URL', ['redis:', 'rediss:']);
  if (url !== undefined) checkRedisUrl(url);
  const sentinels = hostPorts(env, 'REDIS_SENTINELS');
  const sentinelName = env.optionalString('REDIS_SENTINEL_NAME');
  const clusterNodes = hostPorts(env, 'REDIS_CLUSTER_NODES');
  const auth: RedisAuth = {
    username: env.optionalString('REDIS_USERNAME'),
    password: env.optionalString('REDIS_PASSWORD'),
    tls: env.boolean('REDIS_TLS', D.REDIS_TLS.value),
  };
  const sentinelPassword = env.optionalString('REDIS_SENTINEL_PASSWORD');
  const partitions = env.integer('REDIS_CLUSTER_PARTITIONS', D.REDIS_CLUSTER_PARTITIONS.value, ...REDIS_BOUNDS.REDIS_CLUSTER_PARTITIONS);
  const partitionsSet = env.optionalString('REDIS_CLUSTER_PARTITIONS') !== undefined;
  const topology = chooseTopology({ url, sentinels, sentinelName, clusterNodes, auth, sentinelPassword, partitions, partitionsSet });
  const keyPrefix = env.string('REDIS_KEY_PREFIX', D.REDIS_KEY_PREFIX.value);
  const braced = topology?.kind === 'cluster' ? clusterKeyPrefixProblem(keyPrefix) : undefined;
  if (braced !== undefined) throw new ConfigError('REDIS_KEY_PREFIX', braced, keyPrefix);
  return {
    url,
    topology,
    keyPrefix,
    maxLen: env.integer('REDIS_MAXLEN', D.REDIS_MAXLEN.value, ...REDIS_BOUNDS.REDIS_MAXLEN),
    blockMs: env.integer('REDIS_BLOCK_MS', defaultFor(D.REDIS_BLOCK_MS, runtime), 100, 60_000),
    waitReplicas: env.integer('REDIS_WAIT_REPLICAS', D.REDIS_WAIT_REPLICAS.value, ...REDIS_BOUNDS.REDIS_WAIT_REPLICAS),
    waitTimeoutMs: env.integer('REDIS_WAIT_TIMEOUT_MS', D.REDIS_WAIT_TIMEOUT_MS.value, ...REDIS_BOUNDS.REDIS_WAIT_TIMEOUT_MS),
    streamTtlSeconds: env.integer('REDIS_STREAM_TTL_S', D.REDIS_STREAM_TTL_S.value, ...REDIS_BOUNDS.REDIS_STREAM_TTL_S),
    idempotencyTtlSeconds: FIXED_SETTINGS.redisIdempotencyTtlSeconds,
  };
}

interface TopologyInputs {
  url: string | undefined;
  sentinels: RedisHostPort[];
  sentinelName: string | undefined;
  clusterNodes: RedisHostPort[];
  auth: RedisAuth;
  sentinelPassword: string | undefined;
  partitions: number;
  /** REDIS_CLUSTER_PARTITIONS was set (not its default). */
  partitionsSet: boolean;
}

function chooseTopology(inputs: TopologyInputs): RedisTopology | undefined {
  const { url, sentinels, sentinelName, clusterNodes, auth, sentinelPassword, partitions, partitionsSet } = inputs;
  const chosen = [url !== undefined && 'REDIS_URL', sentinels.length > 0 && 'REDIS_SENTINELS', clusterNodes.length > 0 && 'REDIS_CLUSTER_NODES']
    .filter((name): name is string => name !== false);
  if (chosen.length > 1) {
    throw new ConfigError(chosen[1] as string, `left unset when ${chosen[0]} is set (set exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES)`, '(set)');
  }
  if (sentinels.length > 0 && sentinelName === undefined) {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'set with REDIS_SENTINELS: the name of the monitored primary (e.g. mymaster)', '');
  }
  if (sentinels.length === 0 && sentinelName !== undefined) {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'set only with REDIS_SENTINELS=host:port,…', sentinelName);
  }
  // A setting of another topology used to be ignored without a word: a sentinel password where there are no sentinels,
  // a partition count where a single server or a Sentinel primary holds one stream per topic whatever it says.
  const given = chosen[0];
  if (given !== undefined && given !== 'REDIS_SENTINELS' && sentinelPassword !== undefined) {
    throw new ConfigError('REDIS_SENTINEL_PASSWORD', `left unset with ${given} (it is the sentinels' own password, used with REDIS_SENTINELS only)`, '(hidden)');
  }
  if (given !== undefined && given !== 'REDIS_CLUSTER_NODES' && partitionsSet) {
    throw new ConfigError('REDIS_CLUSTER_PARTITIONS', `left unset with ${given} (it spreads a topic over a Redis Cluster's primaries, with REDIS_CLUSTER_NODES only)`, String(partitions));
  }
  if (url !== undefined) {
    const extra = auth.password !== undefined ? 'REDIS_PASSWORD' : auth.username !== undefined ? 'REDIS_USERNAME' : undefined;
    if (extra !== undefined) throw new ConfigError(extra, 'left unset with REDIS_URL (put user:password@ in the URL instead)', '(hidden)');
    // Ignored, it connected in plain text to a Redis the operator believed reached over TLS.
    if (auth.tls && new URL(url).protocol === 'redis:') throw new ConfigError('REDIS_TLS', 'left unset with REDIS_URL (for TLS write rediss:// in REDIS_URL)', 'true');
    return { kind: 'single', url };
  }
  if (sentinels.length > 0) return { kind: 'sentinel', sentinels, name: sentinelName as string, auth, sentinelPassword };
  if (clusterNodes.length > 0) return { kind: 'cluster', nodes: clusterNodes, auth, partitions };
  return undefined;
}

/**
 * Why `prefix` cannot be the key prefix in a Redis Cluster, or undefined when it can. The relay puts its own hash tag
 * right after the prefix (`<prefix>{<tag>}<topic>`, `<prefix>q:{<topic>}`), and Redis hashes the first `{…}` of a key:
 * a prefix with a tag (`{app}:`) put every topic in one slot, on one primary; one with `{}` or a lone brace made keys of
 * one partition hash apart, and every read and keyed publish failed with CROSSSLOT (seen: /readyz, /events and POST
 * /publish 503 for good). Shared with the producer library (publisher/redis-transport.ts).
 */
export function clusterKeyPrefixProblem(prefix: string): string | undefined {
  if (!/[{}]/.test(prefix)) return undefined;
  return 'without { or } in a Redis Cluster: sse-relay adds its own hash tags after the prefix (docs/redis.md, "Cluster: partitions and hash tags")';
}

// `host:port` or `[ipv6]:port`, comma-separated. A host may hold `_` (Docker Compose service names resolve with one).
function hostPorts(env: EnvReader, name: string): RedisHostPort[] {
  return env.list(name).map((entry) => {
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[3]);
    if (match === null || port < 1 || port > 65_535) {
      const example = name === 'REDIS_SENTINELS' ? '10.0.0.1:26379,10.0.0.2:26379' : '10.0.0.1:6379,10.0.0.2:6379';
      throw new ConfigError(name, `a comma-separated list of host:port (e.g. ${example})`, entry);
    }
    return { host: (match[1] ?? match[2]) as string, port };
  });
}
