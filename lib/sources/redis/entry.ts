import { dataProblem, eventProblem as eventFieldProblem, idProblem, jsonDepth, MAX_JSON_DEPTH } from '../../sse/field-rules.js';
import { memberJsonText } from '../../sse/json-member.js';
import type { StoredMessage } from '../../source.js';

/**
 * The documented message formats in Redis (docs/redis.md), parsed strictly because any producer may write them.
 *
 * Stream entry fields: `data` (required, UTF-8 text), `event` (optional, default `message`), `key` (optional idempotency
 * key, not sent to browsers). List item: the JSON text `{"data": …, "event"?: "…", "id"?: "…"}`.
 */

/** A stream entry as ioredis returns it with the `…Buffer` commands: `[id, [field, value, field, value, …]]`. */
export type RawStreamEntry = [Buffer, Buffer[]];

/** Why an entry was skipped, for the log line. */
export interface InvalidEntry {
  topic: string;
  /** Stream id or list item id (`?` when the item had none). */
  position: string;
  reason: string;
}

/** Called for every entry that is not in the documented format; it was skipped (streams) or set aside (lists). */
export type InvalidEntryListener = (entry: InvalidEntry) => void;

// ignoreBOM: a value is the producer's text exactly; a data or event that starts with U+FEFF keeps it (the decoder's
// default would drop it, as it does for a file's byte order mark).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes strict UTF-8 as it is (a leading U+FEFF kept), or returns undefined for binary / malformed bytes. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Why an `event` value cannot be sent, or undefined when it is fine (the rules of lib/sse/field-rules.ts). */
export function eventProblem(event: string): string | undefined {
  return eventFieldProblem(event)?.reason;
}

/** A stream entry as a message, or the reason it is not one. */
export function parseStreamEntry(topic: string, [rawId, fields]: RawStreamEntry, maxMessageBytes: number): StoredMessage | InvalidEntry {
  const position = rawId.toString('latin1');
  let data: Buffer | undefined;
  let event: Buffer | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = (fields[i] as Buffer).toString('latin1');
    if (name === 'data') data = fields[i + 1];
    else if (name === 'event') event = fields[i + 1];
  }
  const invalid = (reason: string): InvalidEntry => ({ topic, position, reason });
  if (data === undefined) return invalid('the entry has no "data" field');
  if (data.byteLength > maxMessageBytes) return invalid(`data is ${data.byteLength} bytes, over MAX_MESSAGE_BYTES (${maxMessageBytes})`);
  const text = decodeUtf8(data);
  if (text === undefined) return invalid('data is not valid UTF-8');
  let type = 'message';
  if (event !== undefined) {
    const decoded = decodeUtf8(event);
    if (decoded === undefined) return invalid('event is not valid UTF-8');
    const problem = eventProblem(decoded);
    if (problem !== undefined) return invalid(problem);
    type = decoded;
  }
  return { topic, position, event: type, data: text };
}

/** True for the result of parseStreamEntry that is a message. */
export function isStoredMessage(value: StoredMessage | InvalidEntry): value is StoredMessage {
  return 'data' in value;
}

const MAX_UINT64 = 2n ** 64n - 1n;

/** True for a stream id Redis can hold: `ms` or `ms-seq`, each part an unsigned 64-bit integer. */
export function isStreamId(text: string): boolean {
  const match = /^(\d{1,20})(?:-(\d{1,20}))?$/.exec(text);
  return match !== null && BigInt(match[1] as string) <= MAX_UINT64 && BigInt(match[2] ?? '0') <= MAX_UINT64;
}

/** Orders two stream ids (`ms-seq`, or `ms` meaning `ms-0`): negative, zero or positive like a comparator. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = '0', aSeq = '0'] = a.split('-');
  const [bMs = '0', bSeq = '0'] = b.split('-');
  const ms = BigInt(aMs) - BigInt(bMs);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(aSeq) - BigInt(bSeq);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

/** A list item, decoded: the JSON envelope `{"data", "event"?, "id"?}`. */
export interface ListEnvelope {
  data: string;
  event: string;
  id: string | undefined;
}

/** The JSON text LPUSHed for one message. */
export function encodeListEnvelope(envelope: { data: string; event: string; id: string }): string {
  return JSON.stringify({ event: envelope.event, data: envelope.data, id: envelope.id });
}

/** Parses a list item, or returns the reason it is not in the documented format. */
export function parseListEnvelope(item: Buffer, maxMessageBytes: number): ListEnvelope | string {
  // A byte order mark before the JSON (a producer's serializer may write one) is not part of it: JSON.parse refuses it.
  const text = decodeUtf8(item)?.replace(/^\uFEFF/, '');
  if (text === undefined) return 'the item is not valid UTF-8';
  // Checked before parsing, the bound POST /publish has (MAX_JSON_DEPTH): a consumer that parses `data` again may recurse.
  if (jsonDepth(text) > MAX_JSON_DEPTH) return `the item nests deeper than ${MAX_JSON_DEPTH} levels`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'the item is not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the item is not a JSON object';
  const { data, event, id } = value as Record<string, unknown>;
  if (data === undefined || data === null) return 'the item has no "data"';
  // The producer's own JSON text: JSON.stringify rewrote numbers a double cannot hold (lib/sse/json-member.ts).
  const payload = typeof data === 'string' ? data : (memberJsonText(text, 'data') as string);
  // The shared rules (lib/sse/field-rules.ts): a JSON escape can make a lone surrogate, which has no UTF-8 form.
  const dataIssue = dataProblem(payload, maxMessageBytes);
  if (dataIssue !== undefined) return dataIssue.reason;
  if (event !== undefined && typeof event !== 'string') return '"event" is not a string';
  const eventIssue = event === undefined ? undefined : eventProblem(event);
  if (eventIssue !== undefined) return eventIssue;
  if (id !== undefined && typeof id !== 'string') return '"id" is not a string';
  const idIssue = id === undefined ? undefined : idProblem(id)?.reason;
  if (idIssue !== undefined) return idIssue;
  return { data: payload, event: event ?? 'message', id };
}
