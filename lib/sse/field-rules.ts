import type { ErrorCode } from '../errors.js';
import { TOPIC_PATTERN, isValidTopic } from './topics.js';

/**
 * The one set of rules for what a message may carry, whoever wrote it: `POST /publish`, a Redis stream entry or list
 * item, an SQS message, or a record the SQS → Redis bridge appends. Every reader and writer asks these functions, so a
 * message one path accepts is never one another path drops.
 */

/** Longest event type, characters. */
export const MAX_EVENT_LENGTH = 128;
/** Longest message id (idempotency key, list item id, queue message id), characters. */
export const MAX_ID_LENGTH = 256;
/** Event types under this prefix are the relay's own (`relay.reset`); nobody else may send them. */
export const RESERVED_EVENT_PREFIX = 'relay.';
/**
 * Event types an `EventSource` dispatches for its own state. A frame named `error` reaches the page's `onerror` and
 * every `addEventListener('error')`, which take it for a lost connection (and RelayClient's error handling with
 * them); `open` likewise reaches `onopen`. Matching is exact and case-sensitive, as the browser's is.
 */
export const EVENTSOURCE_EVENTS: readonly string[] = ['error', 'open'];
/**
 * Deepest nesting of arrays and objects in a JSON message (a publish body, a list item), envelope included: a non-string
 * `data` is re-encoded with JSON.stringify, which is recursive and overflows the stack a few thousand levels down.
 */
export const MAX_JSON_DEPTH = 64;

/** What is wrong with a field: the error code a client sees for it, and a reason for logs and error messages. */
export interface FieldProblem {
  code: Extract<ErrorCode, 'invalid_event_field' | 'invalid_body' | 'message_too_large' | 'invalid_topic'>;
  reason: string;
}

const FORBIDDEN_IN_FIELD = /[\r\n\0]/;
// A lone UTF-16 surrogate: such a string has no UTF-8 form (String#isWellFormed is not in the ES2023 lib we target).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * An event type: 1 to 128 characters, no CR, LF or NUL, no lone surrogate (it would reach the wire as U+FFFD, and no
 * listener for the name that was sent would ever fire), not under the reserved `relay.` prefix, not `error` or `open`.
 */
export function eventProblem(event: string): FieldProblem | undefined {
  if (FORBIDDEN_IN_FIELD.test(event)) return { code: 'invalid_event_field', reason: 'event must not contain CR, LF or NUL' };
  if (LONE_SURROGATE.test(event)) return { code: 'invalid_event_field', reason: 'event is not valid UTF-8 (it has a lone surrogate)' };
  if (event === '' || event.length > MAX_EVENT_LENGTH) return { code: 'invalid_body', reason: `event must be 1 to ${MAX_EVENT_LENGTH} characters` };
  if (event.startsWith(RESERVED_EVENT_PREFIX)) {
    return { code: 'invalid_event_field', reason: `event types starting with "${RESERVED_EVENT_PREFIX}" are reserved for the relay` };
  }
  if (EVENTSOURCE_EVENTS.includes(event)) {
    return { code: 'invalid_event_field', reason: `event "${event}" is the EventSource's own (a page's on${event} would take it for the connection's); name it e.g. "app.${event}"` };
  }
  return undefined;
}

/**
 * A message id or idempotency key: 1 to 256 characters, no CR, LF or NUL, no lone surrogate (it may become an SSE
 * `id:` line, which would then not be the id that was sent).
 */
export function idProblem(id: string): FieldProblem | undefined {
  if (FORBIDDEN_IN_FIELD.test(id)) return { code: 'invalid_event_field', reason: 'id must not contain CR, LF or NUL' };
  if (LONE_SURROGATE.test(id)) return { code: 'invalid_event_field', reason: 'id is not valid UTF-8 (it has a lone surrogate)' };
  if (id === '' || id.length > MAX_ID_LENGTH) return { code: 'invalid_body', reason: `id must be 1 to ${MAX_ID_LENGTH} characters` };
  return undefined;
}

/** A payload: text with a UTF-8 form (no lone surrogates) of at most `maxBytes` bytes. */
export function dataProblem(data: string, maxBytes: number): FieldProblem | undefined {
  if (LONE_SURROGATE.test(data)) return { code: 'invalid_body', reason: 'data is not valid UTF-8 (it has a lone surrogate)' };
  if (Buffer.byteLength(data) > maxBytes) return { code: 'message_too_large', reason: `data is larger than MAX_MESSAGE_BYTES (${maxBytes})` };
  return undefined;
}

/** A topic name (see {@link TOPIC_PATTERN}). The bad value is never echoed. */
export function topicProblem(topic: string): FieldProblem | undefined {
  return isValidTopic(topic) ? undefined : { code: 'invalid_topic', reason: `topic must match ${TOPIC_PATTERN.source}` };
}

/** The fields of a message to publish (a `POST /publish` body, a publisher's message); any other is a misspelling. */
export const MESSAGE_FIELDS: readonly string[] = ['topic', 'data', 'event', 'id'];

/**
 * The first key of `value` outside `allowed` (default {@link MESSAGE_FIELDS}), cut to 64 characters for an error
 * message: a misspelt `evnet` would otherwise publish a plain `message` quietly.
 */
export function unknownField(value: object, allowed: readonly string[] = MESSAGE_FIELDS): string | undefined {
  return Object.keys(value).find((key) => !allowed.includes(key))?.slice(0, 64);
}

/** The parts of one message, as any path carries them. Absent optional fields are not checked. */
export interface MessageFields {
  topic?: string | undefined;
  event?: string | undefined;
  id?: string | undefined;
  data: string;
}

/** The first problem of a whole message, in the order topic, event, id, data; undefined when it may be sent. */
export function messageProblem(message: MessageFields, maxBytes: number): FieldProblem | undefined {
  return (message.topic === undefined ? undefined : topicProblem(message.topic))
    ?? (message.event === undefined ? undefined : eventProblem(message.event))
    ?? (message.id === undefined ? undefined : idProblem(message.id))
    ?? dataProblem(message.data, maxBytes);
}

/** The deepest nesting of `[`/`{` in JSON text, outside strings; one pass, no recursion. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}
