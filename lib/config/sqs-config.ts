import { isValidTopic } from '../sse/topics.js';
import { ConfigError } from './config-error.js';
import { FIXED_SETTINGS, SQS_DEFAULTS as D } from './defaults.js';
import { defaultFor, type Runtime } from './setting.js';
import type { EnvReader } from './env-reader.js';

/** Amazon SQS settings, used when SOURCE is `sqs`. Credentials come from the AWS default provider chain. Defaults: SQS_DEFAULTS. */
export interface SqsConfig {
  /** One queue for every topic. Either this or the template is required for SOURCE=sqs. */
  queueUrl: string | undefined;
  /** Queue URL with `{topic}` in it, e.g. `https://sqs.eu-west-1.amazonaws.com/123/events-{topic}`. */
  queueUrlTemplate: string | undefined;
  /**
   * The only topics the queues serve, or undefined for any. On a shared queue a stream of another topic would receive
   * and release the served topic's messages until the redrive policy dead-letters them, so such a request is refused.
   */
  queueTopics: readonly string[] | undefined;
  /** Long-poll wait of each receive, seconds, 0–20 (0 = short polling: each receive answers at once; an empty one is followed by the next 1 s after it started). */
  waitSeconds: number;
  /** Visibility timeout given to received messages, seconds. */
  visibilityTimeoutSeconds: number;
  /** AWS region; when unset the SDK's default chain decides. */
  region: string | undefined;
  /** Endpoint override (an emulator, a VPC endpoint). */
  endpoint: string | undefined;
  /**
   * Topic of SQS records without a `topic` message attribute, for the SQS → Redis bridge (functions/ingest.ts).
   * Unset: such records are reported as failed and, after maxReceiveCount, land in the dead-letter queue.
   */
  ingestTopic: string | undefined;
  /** Longest an ack or release waits for others before its batch request leaves, ms; fixed (FIXED_SETTINGS). */
  batchFlushMs: number;
}

/** @param runtime `lambda` takes SQS_WAIT_SECONDS's Lambda default. */
export function readSqsConfig(env: EnvReader, runtime: Runtime = 'container'): SqsConfig {
  return {
    queueUrl: env.url('SQS_QUEUE_URL', ['https:', 'http:']),
    queueUrlTemplate: env.optionalString('SQS_QUEUE_URL_TEMPLATE'),
    queueTopics: readQueueTopics(env),
    waitSeconds: env.integer('SQS_WAIT_SECONDS', defaultFor(D.SQS_WAIT_SECONDS, runtime), 0, 20),
    visibilityTimeoutSeconds: env.integer('SQS_VISIBILITY_TIMEOUT_S', D.SQS_VISIBILITY_TIMEOUT_S.value, 1, 43_200),
    region: env.optionalString('AWS_REGION'),
    endpoint: env.url('SQS_ENDPOINT', ['https:', 'http:']),
    ingestTopic: readIngestTopic(env),
    batchFlushMs: FIXED_SETTINGS.sqsBatchFlushMs,
  };
}

function readQueueTopics(env: EnvReader): string[] | undefined {
  const topics = env.list('SQS_QUEUE_TOPICS');
  const bad = topics.find((topic) => !isValidTopic(topic));
  if (bad !== undefined) throw new ConfigError('SQS_QUEUE_TOPICS', 'comma-separated topic names (letters, digits, _ . : -, up to 128 each)', bad);
  return topics.length === 0 ? undefined : topics;
}

function readIngestTopic(env: EnvReader): string | undefined {
  const topic = env.optionalString('INGEST_TOPIC');
  if (topic !== undefined && !isValidTopic(topic)) throw new ConfigError('INGEST_TOPIC', 'a topic name (letters, digits, _ . : -, up to 128)', topic);
  return topic;
}
