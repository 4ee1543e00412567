import type { Message } from '@aws-sdk/client-sqs';
import { messageProblem, topicProblem } from '../field-rules.js';
import { readStringAttribute, type AttributeReading } from '../message-attribute.js';

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
 * Checks a received message against the field rules every path shares (lib/field-rules.ts): the `topic` and `event`
 * attributes (Strings, valid names), the MessageId (it becomes the SSE `id`) and a body with a UTF-8 form of at most
 * `maxBytes`.
 */
export function readMessage(message: Message, maxBytes: number): ReadMessage {
  const messageId = message.MessageId ?? '(no MessageId)';
  const body = message.Body ?? '';
  if (message.ReceiptHandle === undefined) return { kind: 'invalid', messageId, reason: 'no receipt handle' };
  const topic = stringAttribute(message, TOPIC_ATTRIBUTE);
  const event = stringAttribute(message, EVENT_ATTRIBUTE);
  const invalid = (reason: string): ReadMessage => ({ kind: 'invalid', messageId: JSON.stringify(messageId), reason });
  if (topic.kind === 'invalid') return invalid(topic.reason);
  if (event.kind === 'invalid') return invalid(event.reason);
  const topicName = topic.kind === 'value' ? topic.value : undefined;
  const eventName = event.kind === 'value' ? event.value : 'message';
  const problem = (topicName === undefined ? undefined : topicProblem(topicName)) ?? messageProblem({ event: eventName, id: messageId, data: body }, maxBytes);
  if (problem !== undefined) return invalid(problem.reason);
  return { kind: 'frame', messageId, receiptHandle: message.ReceiptHandle, topic: topicName, event: eventName, data: body };
}
