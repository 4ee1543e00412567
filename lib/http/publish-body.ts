import { RelayError } from '../errors.js';
import { dataProblem, eventProblem, idProblem, jsonDepth, MAX_JSON_DEPTH, topicProblem, unknownField, type FieldProblem } from '../sse/field-rules.js';
import type { OutgoingMessage } from '../source.js';
import { memberJsonText } from '../sse/json-member.js';

/** A validated `POST /publish` body. */
export interface PublishRequest {
  topic: string;
  message: OutgoingMessage;
}

/**
 * Parses `{ topic, data, event?, id? }` (and nothing else). `data` may be a string (sent as is) or any other JSON value (sent as the JSON
 * text the producer wrote, without its whitespace). `id` is an idempotency key. Every failure is a RelayError whose code names what was wrong; the field rules are
 * the ones every source applies (lib/sse/field-rules.ts).
 */
export function parsePublishBody(body: Uint8Array, maxMessageBytes: number): PublishRequest {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new RelayError('invalid_body', 'body is not UTF-8 JSON');
  }
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new RelayError('invalid_body', `body nests deeper than ${MAX_JSON_DEPTH} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RelayError('invalid_body', 'body is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RelayError('invalid_body', 'body must be a JSON object {topic, data, event?, id?}');
  }
  const unknown = unknownField(value);
  if (unknown !== undefined) throw new RelayError('invalid_body', `unknown field ${JSON.stringify(unknown)}: a publish body has topic, data, event and id only`);
  const { topic, data, event, id } = value as Record<string, unknown>;
  if (typeof topic !== 'string') throw new RelayError('invalid_topic', 'topic must be a string');
  fail(topicProblem(topic));
  if (data === undefined) throw new RelayError('invalid_body', 'data is required');
  // Not JSON.stringify(data): that rewrote numbers a double cannot hold (json-member.ts).
  const payload = typeof data === 'string' ? data : (memberJsonText(text, 'data') as string);
  fail(dataProblem(payload, maxMessageBytes));
  return { topic, message: { data: payload, event: optionalField('event', event), key: optionalField('id', id) } };
}

function optionalField(name: 'event' | 'id', value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new RelayError('invalid_body', `${name} must be a string`);
  fail(name === 'event' ? eventProblem(value) : idProblem(value));
  return value;
}

function fail(problem: FieldProblem | undefined): void {
  if (problem !== undefined) throw new RelayError(problem.code, problem.reason);
}
