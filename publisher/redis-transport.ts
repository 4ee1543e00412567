import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { FIXED_SETTINGS, REDIS_DEFAULTS } from '../lib/config/defaults.js';
import { clusterKeyPrefixProblem, REDIS_BOUNDS } from '../lib/config/redis-config.js';
import { encodeListEnvelope } from '../lib/sources/redis/entry.js';
import { ListKeys, pushCommand } from '../lib/sources/redis/list-keys.js';
import { appendCommand } from '../lib/sources/redis/stream-append.js';
import { StreamTtlRenewals } from '../lib/sources/redis/stream-ttl.js';
import { ReplicatedWriter } from '../lib/sources/redis/replication.js';
import { isRelayError } from '../lib/errors.js';
import { StreamKeys } from '../lib/sources/redis/stream-keys.js';
import { partitionMismatch, recordedPartitions } from '../lib/sources/redis/partition-marker.js';
import type { CheckedMessage } from './message.js';
import { withDeadline } from './deadline.js';
import { checkOptionNames, checkTimeoutMs } from './options.js';
import { PublishError } from './publish-error.js';
import type { Published, PublishTransport } from './transport.js';

/** Options of redisTransport; match them to the relay's REDIS_* settings. */
export interface RedisTransportOptions {
  /** An ioredis client (or Cluster) you own; it is not closed by the publisher. */
  redis: Redis | Cluster;
  /** `stream` for SOURCE=redis (broadcast), `list` for SOURCE=redis-list (queue). Default `stream`. */
  mode?: 'stream' | 'list';
  /** REDIS_KEY_PREFIX of the relay. Default `sse:`. */
  keyPrefix?: string;
  /** Approximate entries kept per stream (`XADD … MAXLEN ~`), as REDIS_MAXLEN. Default 10000. */
  maxLen?: number;
  /** How long an idempotency key is remembered, seconds (as the relay's own publish). Default 86400. */
  idempotencyTtlSeconds?: number;
  /**
   * REDIS_STREAM_TTL_S of the relay: a stream key expires this long after its last append (renewed as the relay does,
   * at most once per tenth of it per topic), so topics that fall silent do not stay in Redis for ever; 0 = never.
   * Default 86400.
   */
  streamTtlSeconds?: number;
  /**
   * REDIS_CLUSTER_PARTITIONS of a relay on Redis Cluster (stream keys then carry the partition's hash tag); only with a
   * Cluster client. Default: the relay's default (16) with a Cluster client, none otherwise. Checked against the count
   * the cluster records in `<keyPrefix>#cluster-partitions` (recorded by the first relay or producer): a publish with
   * another count throws PublishError `invalid_config` naming the count to use, instead of writing keys no relay reads.
   */
  clusterPartitions?: number;
  /**
   * REDIS_WAIT_REPLICAS of the relay: a publish resolves only once this many replicas hold it (`WAIT` on the same
   * connection), else it rejects with PublishError `not_replicated` and should be retried with the same `id`. WAIT holds
   * the connection meanwhile: give the transport a client of its own. Default 0 (no WAIT).
   */
  waitReplicas?: number;
  /** REDIS_WAIT_TIMEOUT_MS of the relay: the longest WAIT, ms. Default 1000. */
  waitTimeoutMs?: number;
  /**
   * Longest wait for Redis to answer one publish, ms (ioredis queues commands while it reconnects, and by default never
   * gives up on an unreachable server); then the publish rejects with PublishError `unavailable`. It stops the wait, not
   * a write already sent: Redis may still store it, so retry with the same `id`. Above waitTimeoutMs when waitReplicas
   * is set. Default 10000.
   */
  timeoutMs?: number;
}

const OPTION_NAMES: readonly string[] = ['redis', 'mode', 'keyPrefix', 'maxLen', 'idempotencyTtlSeconds', 'streamTtlSeconds', 'clusterPartitions', 'waitReplicas', 'waitTimeoutMs', 'timeoutMs'];

const DEFAULT_TIMEOUT_MS = 10_000;

/** One Redis command (a write), with its arguments. */
type RunCommand = (command: string, ...args: (string | number)[]) => Promise<unknown>;

/**
 * Writes straight into Redis in the layout the relay reads (docs/redis.md), with the relay's own scripts for
 * idempotency: stream entries `event`, `data` (and `key`) under `XADD <prefix><topic> MAXLEN ~ n *`, or the JSON
 * envelope `LPUSH`ed onto `<prefix>q:<topic>`. A message with `id` is stored once per key, exactly as POST /publish.
 *
 * @throws {PublishError} `invalid_config`, at once: no ioredis client, an unknown option, a number outside the relay's
 *   range, a keyPrefix with braces on a cluster, clusterPartitions without a Cluster, a timeoutMs not above
 *   waitTimeoutMs. Its `send` rejects with PublishError `unavailable` when Redis fails or gives no answer within
 *   timeoutMs, `not_replicated` when WAIT falls short.
 */
export function redisTransport(options: RedisTransportOptions): PublishTransport {
  checkOptionNames('redisTransport', options, OPTION_NAMES);
  // The relay's own defaults (lib/config), so a producer left at its defaults writes what a relay at its defaults reads.
  const {
    redis, mode = 'stream', keyPrefix = REDIS_DEFAULTS.REDIS_KEY_PREFIX.value, maxLen = REDIS_DEFAULTS.REDIS_MAXLEN.value,
    idempotencyTtlSeconds = FIXED_SETTINGS.redisIdempotencyTtlSeconds, streamTtlSeconds = REDIS_DEFAULTS.REDIS_STREAM_TTL_S.value,
  } = options;
  // A URL passed where the client belongs would otherwise fail as a TypeError (`redis.on is not a function`).
  if (typeof (redis as Partial<Redis> | undefined)?.call !== 'function') {
    throw new PublishError('invalid_config', `redisTransport needs redis: an ioredis client (new Redis(url)) or Cluster; got ${describe(redis)}`);
  }
  checkRanges(options);
  const clusterPartitions = partitionsFor(options);
  const braced = clusterPartitions === undefined ? undefined : clusterKeyPrefixProblem(keyPrefix);
  if (braced !== undefined) throw new PublishError('invalid_config', `redisTransport keyPrefix must be ${braced}, as REDIS_KEY_PREFIX of the relay; got ${JSON.stringify(keyPrefix)}`);
  if (mode !== 'stream' && mode !== 'list') throw new PublishError('invalid_config', `redisTransport mode must be 'stream' or 'list'; got ${JSON.stringify(mode)}`);
  const timeoutMs = timeoutOf(options);
  const run = withTimeout(writesTo(redis, options.waitReplicas ?? 0, options.waitTimeoutMs ?? REDIS_DEFAULTS.REDIS_WAIT_TIMEOUT_MS.value), timeoutMs);
  if (mode === 'list') {
    // A relay on a cluster reads the cluster layout (the topic as hash tag); the same layout follows from the client.
    const keys = new ListKeys(keyPrefix, clusterPartitions !== undefined);
    return {
      send: async (message) => {
        const id = randomUUID();
        const item = encodeListEnvelope({ event: message.event, data: message.data, id });
        const stored = await run(...pushCommand(keys, message.topic, item, id, message.id, idempotencyTtlSeconds));
        return { id: message.id === undefined ? id : String(stored) };
      },
    };
  }
  const keys = new StreamKeys(keyPrefix, clusterPartitions);
  const stream = { run, keys, maxLen, idempotencyTtlSeconds, streamTtlSeconds, renewals: new StreamTtlRenewals(streamTtlSeconds) };
  // After a reconnection Redis may have come back without the keys renewed before (lib/sources/redis/stream-ttl.ts).
  redis.on('ready', () => stream.renewals.forget());
  const agreed = clusterPartitions === undefined ? undefined : partitionAgreement(redis as Cluster, keyPrefix, clusterPartitions, timeoutMs);
  return {
    send: async (message) => {
      await agreed?.();
      return appendToStream(stream, message);
    },
  };
}

/**
 * On a cluster, before the first append after each (re)connection: clusterPartitions must be the count the relays and
 * producers of this prefix recorded (lib/sources/redis/partition-marker.ts), or the messages go to stream keys no relay
 * reads. A mismatch is PublishError invalid_config, asked again on every publish until it is fixed. Bounded by timeoutMs
 * like the write it precedes.
 */
function partitionAgreement(cluster: Cluster, keyPrefix: string, partitions: number, timeoutMs: number): () => Promise<void> {
  let agreed = false;
  cluster.on('ready', () => (agreed = false));
  return async () => {
    if (agreed) return;
    const recorded = await withDeadline(recordedPartitions(cluster, keyPrefix, partitions), timeoutMs, 'Redis (the cluster-partitions check)');
    if (recorded !== undefined) throw new PublishError('invalid_config', partitionMismatch(keyPrefix, partitions, recorded, 'redisTransport clusterPartitions'));
    agreed = true;
  };
}

/** timeoutMs, checked: a WAIT longer than the whole publish may take would always time out. */
function timeoutOf(options: RedisTransportOptions): number {
  checkTimeoutMs('redisTransport', options.timeoutMs);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const waitTimeoutMs = options.waitTimeoutMs ?? REDIS_DEFAULTS.REDIS_WAIT_TIMEOUT_MS.value;
  if ((options.waitReplicas ?? 0) > 0 && timeoutMs <= waitTimeoutMs) {
    throw new PublishError('invalid_config', `redisTransport timeoutMs (${timeoutMs}) must be above waitTimeoutMs (${waitTimeoutMs}) when waitReplicas is set`);
  }
  return timeoutMs;
}

/** Every command bounded by timeoutMs (withDeadline: the wait stops, the command may still run). */
function withTimeout(run: RunCommand, timeoutMs: number): RunCommand {
  return (command, ...args) => withDeadline(run(command, ...args), timeoutMs, `Redis (${command})`);
}

/** What was passed instead of a client, for an error message (never a URL's text: it may hold a password). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object that is not an ioredis client' : `a ${typeof value}`;
}

// The ranges lib/config gives the relay's own settings. A value outside them (NaN from an unset environment variable, 0,
// a fraction) would write keys no relay reads (clusterPartitions: messages silently lost) or fail every publish as if
// Redis were down (maxLen, the TTLs, the WAIT timeout): it is refused at once instead.
const RANGES = {
  maxLen: [...REDIS_BOUNDS.REDIS_MAXLEN, 'REDIS_MAXLEN'],
  idempotencyTtlSeconds: [1, Number.MAX_SAFE_INTEGER, 'its idempotency window'],
  streamTtlSeconds: [...REDIS_BOUNDS.REDIS_STREAM_TTL_S, 'REDIS_STREAM_TTL_S'],
  clusterPartitions: [...REDIS_BOUNDS.REDIS_CLUSTER_PARTITIONS, 'REDIS_CLUSTER_PARTITIONS'],
  waitReplicas: [...REDIS_BOUNDS.REDIS_WAIT_REPLICAS, 'REDIS_WAIT_REPLICAS'],
  waitTimeoutMs: [...REDIS_BOUNDS.REDIS_WAIT_TIMEOUT_MS, 'REDIS_WAIT_TIMEOUT_MS'],
} as const;

/** Throws PublishError invalid_config for a number option outside the relay's range or a keyPrefix that is not text. */
function checkRanges(options: RedisTransportOptions): void {
  if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string') {
    throw new PublishError('invalid_config', `redisTransport keyPrefix must be a string (the relay's REDIS_KEY_PREFIX); got ${String(options.keyPrefix)}`);
  }
  for (const [name, [min, max, relaySetting]] of Object.entries(RANGES)) {
    const value = options[name as keyof typeof RANGES];
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
      throw new PublishError('invalid_config', `redisTransport ${name} must be a whole number from ${min} to ${max}, as ${relaySetting} of the relay; got ${String(value)}`);
    }
  }
}

/**
 * The partition count of the key layout, from the client: a Cluster is read by the relay in the hash-tagged layout, one
 * server or a Sentinel primary in the plain one (a partitioned layout there would be read by no relay).
 */
function partitionsFor(options: RedisTransportOptions): number | undefined {
  const clustered = options.redis.isCluster;
  if (!clustered && options.clusterPartitions !== undefined) {
    throw new PublishError('invalid_config', 'clusterPartitions needs a Cluster client (new Cluster(nodes)): a relay on one server or Sentinel reads keys without partitions');
  }
  return clustered ? options.clusterPartitions ?? REDIS_DEFAULTS.REDIS_CLUSTER_PARTITIONS.value : undefined;
}

/**
 * How writes go out: as they are, or each followed by WAIT in one pipeline (the relay's own ReplicatedWriter, so a
 * producer gets the guarantee POST /publish gives with REDIS_WAIT_REPLICAS, MOVED after a reshard included).
 */
function writesTo(redis: Redis | Cluster, replicas: number, timeoutMs: number): RunCommand {
  if (replicas === 0) return (command, ...args) => redis.call(command, ...args);
  const writer = new ReplicatedWriter(redis, { replicas, timeoutMs });
  return async (command, ...args) => {
    try {
      return await writer.write((pipeline) => void pipeline.call(command, ...args));
    } catch (error) {
      throw isRelayError(error) ? new PublishError(error.code, error.message, undefined, { cause: error }) : error;
    }
  };
}

interface StreamWriter {
  run: RunCommand;
  keys: StreamKeys;
  maxLen: number;
  idempotencyTtlSeconds: number;
  streamTtlSeconds: number;
  renewals: StreamTtlRenewals;
}

/** One append, in the one command the relay's own publish sends (lib/sources/redis/stream-append.ts). */
async function appendToStream(writer: StreamWriter, message: CheckedMessage): Promise<Published> {
  const { run, keys, renewals } = writer;
  const due = renewals.due(message.topic);
  const id = await run(...appendCommand(keys, message.topic, { event: message.event, data: message.data, key: message.id }, writer, due ? renewals.expiryArgument : 0));
  if (id === null || id === undefined) throw new Error(`XADD ${keys.stream(message.topic)} returned no id`);
  if (due) renewals.renewed(message.topic);
  return { id: String(id) };
}
