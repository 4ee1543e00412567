import type { Logger } from '../logger.js';
import type { OutgoingMessage } from '../source.js';
import { messageProblem } from '../sse/field-rules.js';

/** One SQS record as the bridge needs it, independent of the Lambda event's shape. */
export interface IngestRecord {
  messageId: string;
  body: string;
  /** The `topic` message attribute, if any. */
  topic?: string | undefined;
  /** The `event` message attribute, if any (default `message`). */
  event?: string | undefined;
  /** Why the `topic` or `event` attribute is unusable (not of type String), if it is. */
  attributeProblem?: string | undefined;
}

/** Appends one message; `key` is the record's MessageId, so a redelivered record is stored once (idempotency key). */
export type IngestPublish = (topic: string, message: OutgoingMessage & { key: string }) => Promise<unknown>;

export interface IngestOptions {
  publish: IngestPublish;
  /** Topic of records without a `topic` attribute (INGEST_TOPIC). Default none: such records fail. */
  defaultTopic?: string | undefined;
  /** Largest body, bytes of UTF-8 (MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /**
   * FIFO event source: records are appended one after another and, after the first failure, every later record is
   * reported failed too, so a retry cannot put a group's messages out of order. Default false.
   */
  fifo?: boolean;
  /** Records appended at once on a standard queue. Default 10. */
  concurrency?: number;
  logger: Logger;
}

/** Why a record can never be appended (so retrying it is pointless, but SQS's redrive policy will move it aside). */
export function recordProblem(record: IngestRecord, defaultTopic: string | undefined, maxBytes: number): string | undefined {
  if (record.attributeProblem !== undefined) return record.attributeProblem;
  const topic = record.topic ?? defaultTopic;
  if (topic === undefined) return 'no topic attribute and no INGEST_TOPIC';
  // The rules the stream reader applies (lib/sse/field-rules.ts): a record it would skip must fail here, so SQS keeps it.
  return messageProblem({ topic, event: record.event, id: record.messageId, data: record.body }, maxBytes)?.reason;
}

/**
 * The SQS → Redis bridge's work for one batch: appends every record to its topic's stream and returns the MessageIds
 * that failed (Lambda's `batchItemFailures`), so only those are redelivered.
 */
export async function ingestBatch(records: readonly IngestRecord[], options: IngestOptions): Promise<string[]> {
  if (options.fifo === true) return ingestInOrder(records, options);
  const failed: string[] = [];
  const width = options.concurrency ?? 10;
  for (let i = 0; i < records.length; i += width) {
    const chunk = records.slice(i, i + width);
    const outcomes = await Promise.all(chunk.map((record) => ingestOne(record, options)));
    chunk.forEach((record, n) => outcomes[n] === false && failed.push(record.messageId));
  }
  return failed;
}

async function ingestInOrder(records: readonly IngestRecord[], options: IngestOptions): Promise<string[]> {
  for (const [index, record] of records.entries()) {
    if (!(await ingestOne(record, options))) return records.slice(index).map((r) => r.messageId);
  }
  return [];
}

async function ingestOne(record: IngestRecord, options: IngestOptions): Promise<boolean> {
  const problem = recordProblem(record, options.defaultTopic, options.maxMessageBytes);
  if (problem !== undefined) {
    options.logger.warn({ messageId: record.messageId, reason: problem }, 'SQS record cannot be appended; left for the dead-letter queue');
    return false;
  }
  const topic = (record.topic ?? options.defaultTopic) as string;
  try {
    await options.publish(topic, { data: record.body, event: record.event, key: record.messageId });
    return true;
  } catch (error) {
    options.logger.warn({ messageId: record.messageId, topic, err: error }, 'SQS record append failed; it will be redelivered');
    return false;
  }
}
