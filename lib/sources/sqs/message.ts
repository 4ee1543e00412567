import { createHash, randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import { messageProblem, topicProblem } from '../../sse/field-rules.js';
import { readStringAttribute, type AttributeReading } from './message-attribute.js';

/** Message attribute that names a message's topic on a queue shared by several topics (set by publish). */
export const TOPIC_ATTRIBUTE = 'topic';
/** Message attribute that becomes the SSE event type; `message` when absent. */
export const EVENT_ATTRIBUTE = 'event';

/** What a received message becomes: a frame's parts, or the reason it cannot become one. */
export type ReadMessage =
  | { kind: 'frame'; messageId: string; receiptHandle: string; topic: string | undefined; event: string; data: string }
  | { kind: 'invalid'; messageId: string; reason: string };

/** A message attribute that must be a String (see readStringAttribute). */
export function stringAttribute(message: Message, name: string): AttributeReading {
  const attribute = message.MessageAttributes?.[name];
  return readStringAttribute(name, attribute === undefined ? undefined : { dataType: attribute.DataType, stringValue: attribute.StringValue });
}

/**
 * Checks a received message against the field rules every path shares (lib/sse/field-rules.ts): the `topic` and `event`
 * attributes (Strings, valid names), the MessageId (it becomes the SSE `id`) and a body with a UTF-8 form of at most
 * `maxBytes`.
 */
export function readMessage(message: Message, maxBytes: number): ReadMessage {
  const messageId = message.MessageId ?? '(no MessageId)';
  const body = message.Body ?? '';
  if (message.ReceiptHandle === undefined) return { kind: 'invalid', messageId, reason: 'no receipt handle' };
  const topic = stringAttribute(message, TOPIC_ATTRIBUTE);
  const event = stringAttribute(message, EVENT_ATTRIBUTE);
  const invalid = (reason: string): ReadMessage => ({ kind: 'invalid', messageId, reason });
  if (topic.kind === 'invalid') return invalid(topic.reason);
  if (event.kind === 'invalid') return invalid(event.reason);
  const topicName = topic.kind === 'value' ? topic.value : undefined;
  const eventName = event.kind === 'value' ? event.value : 'message';
  const problem = (topicName === undefined ? undefined : topicProblem(topicName)) ?? messageProblem({ event: eventName, id: messageId, data: body }, maxBytes);
  if (problem !== undefined) return invalid(problem.reason);
  return { kind: 'frame', messageId, receiptHandle: message.ReceiptHandle, topic: topicName, event: eventName, data: body };
}

// What SQS accepts in a body: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF, and at least one.
const OUTSIDE_SQS_CHARACTERS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Why SQS would refuse `body` (so a publish gets a 400, not a 503 it would retry for ever), or undefined. */
export function sqsBodyProblem(body: string): string | undefined {
  if (body === '') return 'SQS does not store an empty message body';
  const bad = OUTSIDE_SQS_CHARACTERS.exec(body)?.[0];
  if (bad === undefined) return undefined;
  const code = (bad.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return `SQS does not store the character U+${code}; encode it (JSON escapes it as \\u${code.toLowerCase()})`;
}

/**
 * The `MessageDeduplicationId` of a publish to a FIFO queue: SHA-256 of its topic and idempotency key (fits SQS's 128
 * characters), or a random UUID without a key. The topic is part of it because SQS deduplicates across the whole queue
 * (DeduplicationScope `queue`, the default) while a key names a message of one topic: on a queue shared by several
 * topics, `id: "welcome"` to `user-1` and then to `user-2` are two messages, not one and a 202 for a message never
 * stored. Topics and keys contain no NUL, so the separator cannot be forged.
 */
export function fifoDeduplicationId(topic: string, key: string | undefined): string {
  return key === undefined ? randomUUID() : createHash('sha256').update(`${topic}\0${key}`).digest('hex');
}
