import { messageProblem, unknownField } from '../lib/sse/field-rules.js';
import { PublishError } from './publish-error.js';

/** One message to publish, as every transport takes it. */
export interface PublishMessage {
  /** Topic name (`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`). */
  topic: string;
  /** A string is sent as is; any other JSON value as its JSON text. */
  data: unknown;
  /** SSE event type; default `message`. 1–128 characters, no CR/LF/NUL, not starting with the reserved `relay.`, not `error` or `open`. */
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

/** The relay's default MAX_MESSAGE_BYTES. */
export const DEFAULT_MAX_MESSAGE_BYTES = 65_536;

/**
 * Applies the relay's own field rules (lib/sse/field-rules.ts, the module every path of the relay uses), so a producer hears
 * about a bad message at once instead of the relay refusing it, or skipping it later (Redis, SQS) with only a log line
 * on the server.
 *
 * @throws {PublishError} with the code the relay would answer: `invalid_body` (not an object, an unknown field, no data,
 *   data with no JSON form, event or id not strings), `invalid_topic`, `invalid_event_field`, `message_too_large`.
 */
export function checkMessage(message: PublishMessage, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): CheckedMessage {
  if (typeof message !== 'object' || message === null) throw new PublishError('invalid_body', 'a message is an object { topic, data, event?, id? }');
  const unknown = unknownField(message);
  if (unknown !== undefined) throw new PublishError('invalid_body', `unknown field ${JSON.stringify(unknown)}: a message has topic, data, event and id only`);
  const { topic, data, event, id } = message;
  if (typeof topic !== 'string') throw new PublishError('invalid_topic', 'topic must be a string');
  if (data === undefined) throw new PublishError('invalid_body', 'data is required (a string, or any JSON value)');
  const text = typeof data === 'string' ? data : jsonText(data);
  if (typeof text !== 'string') throw new PublishError('invalid_body', 'data has no JSON form (a function or a symbol?)');
  if ((event !== undefined && typeof event !== 'string') || (id !== undefined && typeof id !== 'string')) {
    throw new PublishError('invalid_body', 'event and id must be strings');
  }
  const problem = messageProblem({ topic, event, id, data: text }, maxMessageBytes);
  if (problem !== undefined) throw new PublishError(problem.code, `${problem.reason}${problem.code === 'invalid_topic' ? `; got ${JSON.stringify(topic)}` : ''}`);
  return { topic, data: text, event: event ?? 'message', id };
}

/** JSON.stringify, whose TypeErrors (a cycle, a BigInt) become the PublishError every other bad message gets. */
function jsonText(data: unknown): string | undefined {
  try {
    return JSON.stringify(data);
  } catch (error) {
    throw new PublishError('invalid_body', `data has no JSON form: ${(error as Error).message.split('\n')[0]}`, undefined, { cause: error });
  }
}
