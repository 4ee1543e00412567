import { RelayError } from '../errors.js';
import { isValidTopic } from './topics.js';

/**
 * A cursor names a position in every topic of a subscription, so one SSE `id` resumes a multi-topic stream exactly.
 * Wire form: `topic=position` pairs joined by `,` in topic order, e.g. `orders=1700000000000-3,alerts=17`. Clients
 * treat it as opaque; the server parses it strictly because it arrives from the network.
 */
export type Cursor = ReadonlyMap<string, string>;

/** Longest cursor accepted, in characters; longer input is rejected before any parsing work. */
export const MAX_CURSOR_LENGTH = 8192;

// Positions are what sources issue: `epoch-seq` (memory; plain numbers from versions before the epoch) or Redis stream
// ids (`ms-seq`).
const POSITION_PATTERN = /^\d{1,20}(-\d{1,20})?$/;
/** Longest position POSITION_PATTERN accepts: two parts of 20 digits and their `-`. */
const MAX_POSITION_LENGTH = 41;

/**
 * The longest cursor a stream of `topics` can issue: `topic=position` for each, joined by `,`, every position at its
 * longest. A subscription whose cursor could pass MAX_CURSOR_LENGTH would be sent ids its own reconnect is refused for.
 */
export function longestCursorLength(topics: readonly string[]): number {
  return topics.reduce((sum, topic) => sum + topic.length + 1 + MAX_POSITION_LENGTH, Math.max(0, topics.length - 1));
}

/** True when `position` has the shape of a position a source issues. */
export function isValidPosition(position: string): boolean {
  return POSITION_PATTERN.test(position);
}

/**
 * Orders two positions of one topic (both of the shape isValidPosition accepts): negative, zero or positive. Memory
 * positions are `epoch-seq`, Redis stream ids `ms-seq`; a number without `-seq` (`0`, or a memory position of a version
 * before the epoch) counts as `-0`.
 */
export function comparePositions(a: string, b: string): number {
  const [aMain = '0', aSeq = '0'] = a.split('-');
  const [bMain = '0', bSeq = '0'] = b.split('-');
  return compareDecimal(aMain, bMain) || compareDecimal(aSeq, bSeq);
}

// Decimal strings of up to 20 digits (beyond 2^53): compared without leading zeros, by length, then digit by digit.
function compareDecimal(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The wire form of a cursor. Topics are written in sorted order so equal cursors encode equally. */
export function formatCursor(cursor: Cursor): string {
  return [...cursor.keys()].sort().map((topic) => `${topic}=${cursor.get(topic)}`).join(',');
}

/**
 * Parses a client-supplied cursor. Topics the subscription does not name are dropped (the client changed its topic set);
 * anything malformed, or a position `accepts` refuses (one the source could never have issued), throws `invalid_cursor`.
 * An empty string means "no cursor".
 */
export function parseCursor(text: string, topics: readonly string[], accepts: (position: string) => boolean = () => true): Map<string, string> {
  const cursor = new Map<string, string>();
  if (text === '') return cursor;
  if (text.length > MAX_CURSOR_LENGTH) throw invalid(`it is longer than ${MAX_CURSOR_LENGTH} characters`);
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    const topic = pair.slice(0, eq);
    const position = pair.slice(eq + 1);
    if (eq <= 0 || !isValidTopic(topic) || !isValidPosition(position)) throw invalid('a pair is not topic=position');
    if (cursor.has(topic)) throw invalid('a topic appears twice');
    if (!accepts(position)) throw invalid('a position is beyond what the source can hold');
    if (topics.includes(topic)) cursor.set(topic, position);
  }
  return cursor;
}

function invalid(why: string): RelayError {
  return new RelayError('invalid_cursor', `Last-Event-ID is not a valid cursor: ${why}`);
}
