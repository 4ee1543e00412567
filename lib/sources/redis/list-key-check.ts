import type { Redis } from 'ioredis';
import { RelayError } from '../../errors.js';

/** True for the error Redis answers a list command on a key that holds another type. */
export function isWrongTypeError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

/**
 * Queue keys found holding something other than a list (a typo in a producer, a key reused by another application).
 * BLMOVE on such a key fails for ever, so the source refuses streams of that topic (503 source_unavailable) and is not
 * ready while any is known, instead of streaming heartbeats from a queue that can never deliver.
 */
export class ListKeyCheck {
  private readonly wrong = new Map<string, string>();

  /** @param onWrongType hears each key found with the wrong type (a log line and a metric). */
  constructor(private readonly onWrongType: (key: string, type: string) => void) {}

  /** Throws `source_unavailable` naming the first key that is neither a list nor absent. */
  async assertLists(redis: Redis, keys: readonly string[]): Promise<void> {
    const types = await Promise.all(keys.map((key) => redis.type(key)));
    for (const [i, key] of keys.entries()) {
      const type = types[i] as string;
      if (type === 'list' || type === 'none') this.wrong.delete(key);
      else if (!this.wrong.has(key)) {
        this.wrong.set(key, type);
        this.onWrongType(key, type);
      }
    }
    const [key, type] = keys.flatMap((k) => (this.wrong.has(k) ? [[k, this.wrong.get(k)]] : []))[0] ?? [];
    if (key !== undefined) {
      throw new RelayError('source_unavailable', `Redis key ${key} holds a ${type}, not a list: delete or rename it (see docs/redis.md)`, { retryAfterSeconds: 30 });
    }
  }

  /** Whether every key once found with the wrong type is a list (or gone) now. */
  async allLists(redis: Redis): Promise<boolean> {
    if (this.wrong.size === 0) return true;
    try {
      await this.assertLists(redis, [...this.wrong.keys()]);
      return true;
    } catch {
      return false;
    }
  }
}
