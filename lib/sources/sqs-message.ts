import type { Message } from '@aws-sdk/client-sqs';
import { messageProblem } from '../field-rules.js';

/** Message attribute that names a message's topic on a queue shared by several topics (set by publish). */
export const TOPIC_ATTRIBUTE = 'topic';
/** Message attribute that becomes the SSE event type; `message` when absent. */
export const EVENT_ATTRIBUTE = 'event';

/** What a received message becomes: a frame's parts, or the reason it cannot become one. */
export type ReadMessage =
  | { kind: 'frame'; messageId: string; receiptHandle: string; topic: string | undefined; event: string; data: string }
  | { kind: 'invalid'; messageId: string; reason: string };


/** The string value of a message attribute, if it has one. */
export function stringAttribute(message: Message, name: string): string | undefined {
  return message.MessageAttributes?.[name]?.StringValue;
}

/**
 * Checks a received message against the field rules every path shares (lib/field-rules.ts): the event attribute, the
 * MessageId (it becomes the SSE `id`) and a body with a UTF-8 form of at most `maxBytes`.
 */
export function readMessage(message: Message, maxBytes: number): ReadMessage {
  const messageId = message.MessageId ?? '(no MessageId)';
  const body = message.Body ?? '';
  const event = stringAttribute(message, EVENT_ATTRIBUTE) ?? 'message';
  if (message.ReceiptHandle === undefined) return { kind: 'invalid', messageId, reason: 'no receipt handle' };
  const problem = messageProblem({ event, id: messageId, data: body }, maxBytes);
  if (problem !== undefined) return { kind: 'invalid', messageId: JSON.stringify(messageId), reason: problem.reason };
  return { kind: 'frame', messageId, receiptHandle: message.ReceiptHandle, topic: stringAttribute(message, TOPIC_ATTRIBUTE), event, data: body };
}
