import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { loadConfig, type Config } from '../lib/config/index.js';
import { ingestBatch, type IngestRecord } from '../lib/ingest-batch.js';
import type { Logger } from '../lib/logger.js';
import type { RedisStreamSource } from '../lib/sources/redis-stream.js';
import { buildRedisSource } from './build-redis-source.js';
import { createLogger } from './logger.js';

/** What one warm Lambda container keeps between invocations. */
interface Bridge {
  config: Config;
  logger: Logger;
  streams: RedisStreamSource;
}

let bridge: Bridge | undefined;

// Built on the first invocation, not at import: a configuration error then fails the batch (and is logged) instead of
// the init phase, and tests can set the environment before the first call.
function openBridge(): Bridge {
  if (bridge !== undefined) return bridge;
  const config = loadConfig(process.env);
  if (config.redis.topology === undefined) throw new Error('REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES) must be set for the SQS → Redis bridge');
  const logger = createLogger(config.server.logLevel);
  // Always a stream source, whatever SOURCE says: the bridge appends for broadcast readers.
  const streams = buildRedisSource({ ...config, server: { ...config.server, source: 'redis' } }, { logger }) as RedisStreamSource;
  bridge = { config, logger, streams };
  return bridge;
}

function toIngestRecord(record: SQSRecord): IngestRecord {
  return {
    messageId: record.messageId,
    body: record.body,
    topic: record.messageAttributes?.['topic']?.stringValue,
    event: record.messageAttributes?.['event']?.stringValue,
  };
}

/**
 * The SQS → Redis bridge: an SQS-triggered Lambda (enable `ReportBatchItemFailures` on the event source mapping) that
 * appends each record to the Redis stream of its topic (message attribute `topic`, else INGEST_TOPIC). The MessageId is
 * the idempotency key, so a redelivered record is appended once within the key's retention (one day).
 */
export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const { config, logger, streams } = openBridge();
  const fifo = event.Records[0]?.eventSourceARN?.endsWith('.fifo') ?? false;
  const failed = await ingestBatch(event.Records.map(toIngestRecord), {
    publish: (topic, message) => streams.publish(topic, message),
    defaultTopic: config.sqs.ingestTopic,
    maxMessageBytes: config.server.maxMessageBytes,
    fifo,
    logger,
  });
  if (failed.length > 0) logger.warn({ failed: failed.length, total: event.Records.length }, 'SQS batch partly failed; those records will be redelivered');
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
};

/** Closes the Redis connections (tests; Lambda just freezes the container). */
export async function closeBridge(): Promise<void> {
  const open = bridge;
  bridge = undefined;
  await open?.streams.close();
}
