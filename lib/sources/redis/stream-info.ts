import type { RedisClient } from './connection.js';
import { compareStreamIds } from './entry.js';

/** What replay needs from `XINFO STREAM`. */
export interface StreamInfo {
  /** True when some entry newer than `after` is gone (trimmed by MAXLEN or deleted). */
  lostAfter(after: string): boolean;
}

/**
 * Reads `XINFO STREAM key`, or undefined when the key does not exist.
 *
 * An entry after the cursor is gone when it was deleted (`max-deleted-entry-id` is newer than the cursor; XDEL sets it)
 * or trimmed by MAXLEN (Redis 7.0 does not record trims there, but then `entries-added` exceeds `length` and the cursor
 * is older than `recorded-first-entry-id`), or when the key itself went away and was written again (it expired after
 * REDIS_STREAM_TTL_S, or was deleted): nothing was trimmed from the new stream, yet a cursor other than `0-0` older than
 * its first entry names an entry of the earlier one, whose followers are gone with it. The inexact cases are
 * conservative: a cursor that names exactly the last trimmed entry, or the last entry of the earlier stream, reports a
 * gap although nothing after it was lost. Redis 6.2 reports neither counter; there the first retained entry alone decides.
 */
export async function readStreamInfo(client: RedisClient, key: string): Promise<StreamInfo | undefined> {
  let reply: unknown[];
  try {
    reply = (await client.call('XINFO', 'STREAM', key)) as unknown[];
  } catch (error) {
    if (/no such key/i.test(String((error as Error).message))) return undefined;
    throw error;
  }
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  const maxDeleted = fields.get('max-deleted-entry-id');
  const firstEntry = fields.get('first-entry');
  const recordedFirst = fields.get('recorded-first-entry-id');
  const firstId = typeof recordedFirst === 'string' ? recordedFirst : Array.isArray(firstEntry) ? String(firstEntry[0]) : undefined;
  const added = fields.get('entries-added');
  const trimmed = typeof added === 'number' ? added > Number(fields.get('length')) : true;
  return {
    lostAfter: (after) =>
      (typeof maxDeleted === 'string' && compareStreamIds(after, maxDeleted) < 0) ||
      ((trimmed || compareStreamIds(after, '0-0') > 0) && firstId !== undefined && firstId !== '0-0' && compareStreamIds(after, firstId) < 0),
  };
}
