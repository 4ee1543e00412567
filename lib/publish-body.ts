import { RelayError } from './errors.js';
import type { OutgoingMessage } from './source.js';
import { assertFieldValue } from './sse-encoder.js';
import { assertTopic } from './topics.js';

/** A validated `POST /publish` body. */
export interface PublishRequest {
  topic: string;
  message: OutgoingMessage;
}

const MAX_EVENT_LENGTH = 128;
const MAX_KEY_LENGTH = 128;

/**
 * Parses `{ topic, data, event?, id? }`. `data` may be a string (sent as is) or any other JSON value (sent as its JSON
 * text). `id` is an idempotency key. Every failure is a RelayError whose code names what was wrong.
 */
export function parsePublishBody(body: Uint8Array, maxMessageBytes: number): PublishRequest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw new RelayError('invalid_body', 'body is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RelayError('invalid_body', 'body must be a JSON object {topic, data, event?, id?}');
  }
  const { topic, data, event, id } = value as Record<string, unknown>;
  assertTopic(topic);
  if (data === undefined) throw new RelayError('invalid_body', 'data is required');
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  if (Buffer.byteLength(text) > maxMessageBytes) {
    throw new RelayError('message_too_large', `data is larger than MAX_MESSAGE_BYTES (${maxMessageBytes})`);
  }
  return { topic, message: { data: text, event: optionalField('event', event, MAX_EVENT_LENGTH), key: optionalField('id', id, MAX_KEY_LENGTH) } };
}

function optionalField(name: 'event' | 'id', value: unknown, maxLength: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > maxLength) {
    throw new RelayError('invalid_body', `${name} must be a non-empty string of at most ${maxLength} characters`);
  }
  assertFieldValue(name, value);
  return value;
}
