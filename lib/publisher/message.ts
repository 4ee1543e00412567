import { isValidTopic, TOPIC_PATTERN } from '../topics.js';
import { PublishError } from './publish-error.js';

/** One message to publish, as every transport takes it. */
export interface PublishMessage {
  /** Topic name (`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`). */
  topic: string;
  /** A string is sent as is; any other JSON value as its JSON text. */
  data: unknown;
  /** SSE event type; default `message`. 1–128 characters, no CR/LF/NUL, not starting with the reserved `relay.`. */
  event?: string | undefined;
  /** Idempotency key: publishing it again to the same topic (within the source's window) stores one message. */
  id?: string | undefined;
}

/** A message checked against the relay's field rules, with `data` as the text the subscriber will receive. */
export interface CheckedMessage {
  topic: string;
  event: string;
  data: string;
  id: string | undefined;
}

/** The bounds the relay applies by default (README, configuration: MAX_MESSAGE_BYTES). */
export const DEFAULT_MAX_MESSAGE_BYTES = 65_536;
const MAX_EVENT_LENGTH = 128;
const MAX_ID_LENGTH = 128;
const FORBIDDEN_IN_FIELD = /[\r\n\0]/;
// A lone UTF-16 surrogate has no UTF-8 form: the relay would refuse (or skip) the message.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Applies the rules the relay applies when it reads a message, so a producer hears about a bad message at once
 * instead of the relay skipping it later (Redis, SQS) with only a log line on the server.
 */
export function checkMessage(message: PublishMessage, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): CheckedMessage {
  const { topic, data, event, id } = message;
  if (typeof topic !== 'string' || !isValidTopic(topic)) {
    throw new PublishError('invalid_topic', `topic must match ${TOPIC_PATTERN.source}; got ${JSON.stringify(topic)}`);
  }
  if (data === undefined) throw new PublishError('invalid_body', 'data is required (a string, or any JSON value)');
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  if (typeof text !== 'string') throw new PublishError('invalid_body', 'data has no JSON form (a function or a symbol?)');
  if (LONE_SURROGATE.test(text)) throw new PublishError('invalid_body', 'data contains a lone UTF-16 surrogate (it has no UTF-8 form)');
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes > maxMessageBytes) throw new PublishError('message_too_large', `data is ${bytes} bytes, over ${maxMessageBytes} (MAX_MESSAGE_BYTES)`);
  return { topic, data: text, event: checkField('event', event ?? 'message', MAX_EVENT_LENGTH), id: id === undefined ? undefined : checkField('id', id, MAX_ID_LENGTH) };
}

function checkField(name: 'event' | 'id', value: unknown, maxLength: number): string {
  if (typeof value !== 'string' || value === '' || value.length > maxLength) {
    throw new PublishError('invalid_body', `${name} must be a non-empty string of at most ${maxLength} characters`);
  }
  if (FORBIDDEN_IN_FIELD.test(value)) throw new PublishError('invalid_event_field', `${name} must not contain CR, LF or NUL`);
  if (name === 'event' && value.startsWith('relay.')) {
    throw new PublishError('invalid_event_field', 'event names starting with "relay." are reserved for the relay itself');
  }
  return value;
}
