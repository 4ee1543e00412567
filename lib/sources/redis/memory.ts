import { RelayError } from '../../errors.js';
import type { SourceMemory } from '../../source.js';
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
 * does not answer within a second.
 */
export async function memoryUsage(command: RedisClient): Promise<SourceMemory | undefined> {
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
