import { RelayError } from '../../errors.js';
import type { SourceMemory } from '../../source.js';
import { Cluster } from 'ioredis';
import { connected, withDeadline, type RedisClient } from './connection.js';

// Shared by both Redis sources (streams and lists): what a full Redis looks like to a publish, and its memory figures.

/** How long a scrape waits for INFO, ms. */
const INFO_TIMEOUT_MS = 1_000;

// Redis answers a write over maxmemory under noeviction with "OOM command not allowed when used memory > 'maxmemory'"
// (inside a script too); a MULTI would fail with EXECABORT and the OOM replies in `previousErrors`.
const OUT_OF_MEMORY = /\bOOM command not allowed/;

/** Whether Redis refused a command (or a MULTI) because it is over maxmemory under noeviction. */
export function isOutOfMemory(error: unknown): boolean {
  const { message = '', previousErrors = [] } = error as { message?: string; previousErrors?: { message?: string }[] };
  return OUT_OF_MEMORY.test(message) || previousErrors.some((e) => OUT_OF_MEMORY.test(e.message ?? ''));
}

/**
 * What a failed publish throws: Redis's OOM refusal becomes 503 `source_full` (with Retry-After), after `onOutOfMemory`
 * counted it; any other error is returned as it is.
 */
export function publishFailure(error: unknown, onOutOfMemory: (() => void) | undefined): unknown {
  if (!isOutOfMemory(error)) return error;
  onOutOfMemory?.();
  return new RelayError('source_full', 'Redis is out of memory (maxmemory reached under noeviction)', { cause: error, retryAfterSeconds: 30 });
}

/**
 * `INFO memory` and `INFO stats`: used_memory, maxmemory, maxmemory_policy and evicted_keys, or undefined when Redis
 * does not answer within a second. In a Redis Cluster every primary is asked, since each fills up on its own (a write
 * to a full shard is refused while the others have room): the used and maxmemory of the fullest primary (the highest
 * used ÷ maxmemory, or the most used where none has a maxmemory), whether any primary may evict, and the keys evicted
 * on all of them. Asking one node, as a keyless command goes, showed a random primary's figures at each scrape.
 */
export async function memoryUsage(command: RedisClient): Promise<SourceMemory | undefined> {
  if (!(command instanceof Cluster)) return nodeMemory(command);
  const readings = (await Promise.all(command.nodes('master').map((node) => nodeMemory(node)))).filter((m): m is SourceMemory => m !== undefined);
  return readings.length === 0 ? undefined : fullest(readings);
}

async function nodeMemory(command: RedisClient): Promise<SourceMemory | undefined> {
  try {
    const [memory, stats] = await withDeadline(INFO_TIMEOUT_MS, connected(command).then((redis) => Promise.all([redis.info('memory'), redis.info('stats')])));
    const field = (info: string, name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    const usedBytes = field(memory, 'used_memory');
    if (!Number.isFinite(usedBytes)) return undefined;
    const maxBytes = field(memory, 'maxmemory') || 0;
    const policy = /^maxmemory_policy:(\S+)/m.exec(memory)?.[1];
    const evictedKeys = field(stats, 'evicted_keys');
    return {
      usedBytes,
      maxBytes,
      // Without maxmemory nothing is evicted, whatever the policy says.
      ...(policy === undefined ? {} : { mayEvict: maxBytes > 0 && policy !== 'noeviction' }),
      ...(Number.isFinite(evictedKeys) ? { evictedKeys } : {}),
    };
  } catch {
    return undefined;
  }
}

// The primaries' readings as one: the fullest one's bytes, eviction if any may evict, evictions summed.
function fullest(readings: readonly SourceMemory[]): SourceMemory {
  const share = (m: SourceMemory): number => (m.maxBytes > 0 ? m.usedBytes / m.maxBytes : 0);
  const limited = readings.filter((m) => m.maxBytes > 0);
  const top = limited.length > 0
    ? limited.reduce((a, b) => (share(b) > share(a) ? b : a))
    : readings.reduce((a, b) => (b.usedBytes > a.usedBytes ? b : a));
  const policies = readings.filter((m) => m.mayEvict !== undefined);
  const evicted = readings.filter((m) => m.evictedKeys !== undefined);
  return {
    usedBytes: top.usedBytes,
    maxBytes: top.maxBytes,
    ...(policies.length === 0 ? {} : { mayEvict: policies.some((m) => m.mayEvict === true) }),
    ...(evicted.length === 0 ? {} : { evictedKeys: evicted.reduce((sum, m) => sum + (m.evictedKeys ?? 0), 0) }),
  };
}
