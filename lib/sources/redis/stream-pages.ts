import type { Cluster, Redis } from 'ioredis';
import type { RawStreamEntry } from './entry.js';

/**
 * Most entries of one XRANGE of a replay. One reply is buffered whole (by Redis and by ioredis) before anything is
 * parsed, so a replay of REPLAY_MAX entries of MAX_MESSAGE_BYTES read at once held 64 MB per topic per stream: twenty
 * streams resuming from an old cursor took 700 MB. A page is as many entries as what is left of the byte bound holds at
 * MAX_MESSAGE_BYTES each (at least one); once the entries seen are small, up to SMALL_PAGE of them, so a long replay of
 * small messages takes 17 round trips rather than 69. A replay holds at most its bound and SMALL_PAGE messages.
 */
const MAX_PAGE = 512;
const SMALL_PAGE = 64;
// A stream entry's field names and framing, beyond its data.
const ENTRY_OVERHEAD_BYTES = 64;

/** Entries read by one paged replay, and where it stopped if its byte bound stopped it with entries possibly left. */
export interface ReadPages {
  entries: RawStreamEntry[];
  /** The byte bound stopped the read after a full page: the id of the last entry read; later ones may be left unread. */
  truncatedAt: string | undefined;
}

type Direction = 'after' | 'newest';

/**
 * Up to `want` entries of `key` in (`after`, `until`]: the oldest (`after`, going forward) or the newest (`newest`,
 * going back from `until`, returned oldest first). Reads page by page and stops once the data read reaches
 * `maxBytes` (after at least one entry), so what it holds is bounded by the stream's own buffer, not by REPLAY_MAX.
 * `largestEntry`: the largest entry a valid message makes (MAX_MESSAGE_BYTES), which sizes the pages.
 */
export async function readPages(
  redis: Redis | Cluster,
  key: string,
  range: { after: string; until: string; want: number; direction: Direction },
  bound: { maxBytes: number; largestEntry: number },
): Promise<ReadPages> {
  const { after, until, want, direction } = range;
  const { maxBytes } = bound;
  const entries: RawStreamEntry[] = [];
  let bytes = 0;
  let largestSeen = 0;
  let from = direction === 'after' ? `(${after}` : until;
  while (entries.length < want) {
    const count = pageSize(want - entries.length, maxBytes - bytes, bound.largestEntry, largestSeen);
    const page = (direction === 'after'
      ? await redis.xrangeBuffer(key, from, until, 'COUNT', count)
      : await redis.xrevrangeBuffer(key, from, `(${after}`, 'COUNT', count)) as RawStreamEntry[];
    for (const entry of page) {
      const size = entryBytes(entry);
      entries.push(entry);
      bytes += size;
      largestSeen = Math.max(largestSeen, size);
    }
    const last = page.at(-1);
    if (page.length < count || last === undefined) return { entries: ordered(entries, direction), truncatedAt: undefined };
    const lastId = last[0].toString('latin1');
    if (bytes >= maxBytes) return { entries: ordered(entries, direction), truncatedAt: entries.length < want ? lastId : undefined };
    from = `(${lastId}`;
  }
  return { entries: ordered(entries, direction), truncatedAt: undefined };
}

// As many entries as `left` bytes hold at the largest a message may be; once some were seen, as many as it holds at the
// largest of those, up to SMALL_PAGE.
function pageSize(wanted: number, left: number, largestEntry: number, largestSeen: number): number {
  const safe = Math.floor(left / (largestEntry + ENTRY_OVERHEAD_BYTES));
  const likely = largestSeen === 0 ? 0 : Math.min(SMALL_PAGE, Math.floor(left / largestSeen));
  return Math.max(1, Math.min(MAX_PAGE, wanted, Math.max(safe, likely)));
}

function ordered(entries: RawStreamEntry[], direction: Direction): RawStreamEntry[] {
  return direction === 'after' ? entries : entries.reverse();
}

function entryBytes([, fields]: RawStreamEntry): number {
  let bytes = 0;
  for (const field of fields) bytes += field.byteLength;
  return bytes;
}
