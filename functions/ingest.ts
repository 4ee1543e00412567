import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { loadBridgeConfig, type BridgeConfig } from '../lib/config/index.js';
import { ingestBatch, type IngestRecord } from '../lib/bridge/ingest-batch.js';
import type { Logger } from '../lib/logger.js';
import { readStringAttribute, type AttributeReading } from '../lib/sources/sqs/message-attribute.js';
import type { RedisStreamSource } from '../lib/sources/redis/stream.js';
import { buildRedisStreamSource } from './build-redis-source.js';
import { InvocationScope } from './lambda-invocations.js';
import { createLogger } from './logger.js';
import { loadWithSecrets } from './resolve-secrets.js';

/** What one warm Lambda container keeps between invocations. */
interface Bridge {
  config: BridgeConfig;
  logger: Logger;
  streams: RedisStreamSource;
  invocations: InvocationScope;
}

let bridge: Promise<Bridge> | undefined;

// Built on the first invocation, not at import: a configuration error then fails the batch (and is logged) instead of
// the init phase, and tests can set the environment before the first call. A failed build is tried again next time.
function openBridge(): Promise<Bridge> {
  bridge ??= buildBridge().catch((error: unknown) => {
    bridge = undefined;
    throw error;
  });
  return bridge;
}

async function buildBridge(): Promise<Bridge> {
  // REDIS_URL_FROM names the URL (with its password) in SSM or Secrets Manager; it is read once per sandbox.
  // Requires a Redis topology (a ConfigError naming REDIS_URL otherwise); nothing about auth or SOURCE.
  const config = await loadWithSecrets(process.env, loadBridgeConfig);
  const invocations = new InvocationScope(process.env);
  const logger = createLogger(config.logLevel, undefined, invocations.logFields);
  // Always a stream source, whatever SOURCE says: the bridge appends for broadcast readers.
  const streams = buildRedisStreamSource(config.redis, config.target, config.maxMessageBytes, { logger });
  return { config, logger, streams, invocations };
}

function toIngestRecord(record: SQSRecord): IngestRecord {
  const attribute = (name: string): AttributeReading => {
    const value = record.messageAttributes?.[name];
    return readStringAttribute(name, value === undefined ? undefined : { dataType: value.dataType, stringValue: value.stringValue });
  };
  const topic = attribute('topic');
  const event = attribute('event');
  return {
    messageId: record.messageId,
    body: record.body,
    topic: topic.kind === 'value' ? topic.value : undefined,
    event: event.kind === 'value' ? event.value : undefined,
    attributeProblem: topic.kind === 'invalid' ? topic.reason : event.kind === 'invalid' ? event.reason : undefined,
  };
}

/**
 * The SQS → Redis bridge: an SQS-triggered Lambda (enable `ReportBatchItemFailures` on the event source mapping) that
 * appends each record to the Redis stream of its topic (message attribute `topic`, else INGEST_TOPIC). The MessageId is
 * the idempotency key, so a redelivered record is appended once within the key's retention (one day).
 */
export const handler = async (event: SQSEvent, context?: Pick<Context, 'awsRequestId'>): Promise<SQSBatchResponse> => {
  const { config, logger, streams, invocations } = await openBridge();
  invocations.started(context?.awsRequestId ?? 'unknown');
  try {
    return await ingest(event, config, logger, streams);
  } finally {
    invocations.finished();
  }
};

async function ingest(event: SQSEvent, config: BridgeConfig, logger: Logger, streams: RedisStreamSource): Promise<SQSBatchResponse> {
  const fifo = event.Records[0]?.eventSourceARN?.endsWith('.fifo') ?? false;
  const failed = await ingestBatch(event.Records.map(toIngestRecord), {
    publish: (topic, message) => streams.publish(topic, message),
    defaultTopic: config.ingestTopic,
    maxMessageBytes: config.maxMessageBytes,
    fifo,
    logger,
  });
  if (failed.length > 0) logger.warn({ failed: failed.length, total: event.Records.length }, 'SQS batch partly failed; those records will be redelivered');
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
}

/** Closes the Redis connections (tests; Lambda just freezes the container). */
export async function closeBridge(): Promise<void> {
  const open = bridge;
  bridge = undefined;
  await (await open?.catch(() => undefined))?.streams.close();
}
