import { RelayError } from '../../errors.js';
import type { SourceMemory } from '../../source.js';
import { connected, withDeadline, type RedisClient } from './connection.js';

// Shared by both Redis sources (streams and lists): what a full Redis looks like to a publish, and its memory figures.

/** How long a scrape waits for INFO, ms. */
const INFO_TIMEOUT_MS = 1_000;

// Redis answers a write over maxmemory under noeviction with "OOM command not allowed when used memory > 'maxmemory'"
// (inside a script too); a MULTI would fail with EXECABORT and the OOM replies in `previousErrors`.
const OUT_OF_MEMORY = /\bOOM command not allowed/;

function isOutOfMemory(error: unknown): boolean {
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

/** `INFO memory`: used_memory and maxmemory, or undefined when Redis does not answer within a second. */
export async function memoryUsage(command: RedisClient): Promise<SourceMemory | undefined> {
  try {
    const info = await withDeadline(INFO_TIMEOUT_MS, connected(command).then((redis) => redis.info('memory')));
    const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    const usedBytes = field('used_memory');
    return Number.isFinite(usedBytes) ? { usedBytes, maxBytes: field('maxmemory') || 0 } : undefined;
  } catch {
    return undefined;
  }
}
