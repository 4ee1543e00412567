import type { Message } from '@aws-sdk/client-sqs';

/** Message attribute that names a message's topic on a queue shared by several topics (set by publish). */
export const TOPIC_ATTRIBUTE = 'topic';
/** Message attribute that becomes the SSE event type; `message` when absent. */
export const EVENT_ATTRIBUTE = 'event';

/** What a received message becomes: a frame's parts, or the reason it cannot become one. */
export type ReadMessage =
  | { kind: 'frame'; messageId: string; receiptHandle: string; topic: string | undefined; event: string; data: string }
  | { kind: 'invalid'; messageId: string; reason: string };

const FORBIDDEN_IN_EVENT = /[\r\n\0]/;
// A lone UTF-16 surrogate: such a string has no UTF-8 form (String#isWellFormed is not in the ES2023 lib we target).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The string value of a message attribute, if it has one. */
export function stringAttribute(message: Message, name: string): string | undefined {
  return message.MessageAttributes?.[name]?.StringValue;
}

/**
 * Checks a received message against what a frame may carry: a well-formed UTF-8 body (a string with lone surrogates
 * has no UTF-8 form) of at most `maxBytes`, and an event type without CR, LF or NUL.
 */
export function readMessage(message: Message, maxBytes: number): ReadMessage {
  const messageId = message.MessageId ?? '(no MessageId)';
  const body = message.Body ?? '';
  const event = stringAttribute(message, EVENT_ATTRIBUTE) ?? 'message';
  if (message.ReceiptHandle === undefined) return { kind: 'invalid', messageId, reason: 'no receipt handle' };
  if (LONE_SURROGATE.test(body)) return { kind: 'invalid', messageId, reason: 'body is not valid UTF-8' };
  if (Buffer.byteLength(body) > maxBytes) return { kind: 'invalid', messageId, reason: `body is over MAX_MESSAGE_BYTES (${maxBytes})` };
  if (event === '' || FORBIDDEN_IN_EVENT.test(event)) return { kind: 'invalid', messageId, reason: 'event attribute is empty or has CR, LF or NUL' };
  if (FORBIDDEN_IN_EVENT.test(messageId)) return { kind: 'invalid', messageId: JSON.stringify(messageId), reason: 'MessageId has CR, LF or NUL' };
  return { kind: 'frame', messageId, receiptHandle: message.ReceiptHandle, topic: stringAttribute(message, TOPIC_ATTRIBUTE), event, data: body };
}
