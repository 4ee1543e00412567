import { RelayError } from '../errors.js';

/** One Server-Sent Event as the encoder takes it. */
export interface SseEvent {
  /** The payload; any string. Split into one `data:` line per line (CRLF, LF and lone CR all end a line). */
  data: string;
  /** The event type; omitted on the wire when it is `message` or undefined, as EventSource defaults to `message`. */
  event?: string | undefined;
  /** The event id (a cursor); must not contain CR, LF or NUL. */
  id?: string | undefined;
}

// The spec ends a line at CRLF, LF or a lone CR, so every one of them must start a new `data:` line.
const LINE_BREAK = /\r\n|\r|\n/;
const FORBIDDEN_IN_FIELD = /[\r\n\0]/;

/** Throws `invalid_event_field` when a single-line field value could break out of its line or truncate the id. */
export function assertFieldValue(field: 'event' | 'id' | 'comment', value: string): void {
  if (FORBIDDEN_IN_FIELD.test(value)) {
    throw new RelayError('invalid_event_field', `${field} must not contain CR, LF or NUL`);
  }
}

/** The text of one event, ending with the blank line that dispatches it. */
export function encodeEvent(event: SseEvent): string {
  let out = '';
  if (event.id !== undefined) {
    assertFieldValue('id', event.id);
    out += `id: ${event.id}\n`;
  }
  if (event.event !== undefined && event.event !== 'message') {
    assertFieldValue('event', event.event);
    if (event.event === '') throw new RelayError('invalid_event_field', 'event type must not be empty');
    out += `event: ${event.event}\n`;
  }
  return out + encodeData(event.data) + '\n';
}

/** The `data:` lines of a payload. A leading space is kept because the parser strips only one after the colon. */
export function encodeData(data: string): string {
  let out = '';
  for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return out;
}

/**
 * An id-only frame: `id:` and the blank line. Per the WHATWG rules it sets the browser's `lastEventId` and dispatches
 * nothing (the data buffer is empty), so a stream can say where it stands without an event.
 */
export function encodePosition(id: string): string {
  assertFieldValue('id', id);
  return `id: ${id}\n\n`;
}

/** A comment line (ignored by EventSource); used for heartbeats and flush padding. */
export function encodeComment(text: string): string {
  assertFieldValue('comment', text);
  return `: ${text}\n\n`;
}

/** The `retry:` field: how long EventSource waits before reconnecting, in milliseconds. */
export function encodeRetry(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RelayError('invalid_event_field', `retry must be a non-negative integer of milliseconds, got ${ms}`);
  }
  return `retry: ${ms}\n\n`;
}
