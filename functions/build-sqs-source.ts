import { SQSClient } from '@aws-sdk/client-sqs';
import { requireSqsQueues, type Config } from '../lib/config/index.js';
import { regionOfQueueUrl } from '../lib/sources/sqs/queue-urls.js';
import { SqsSource } from '../lib/sources/sqs/source.js';
import type { SourceHooks } from './source-hooks.js';

/**
 * The SQS client of every sse-relay entry point. Credentials come from the AWS default provider chain (environment,
 * web identity / IRSA, ECS or EC2 role, Lambda role): never from code or from sse-relay's own configuration. The SDK's
 * standard retry strategy retries throttling, 5xx and network errors with capped exponential backoff and full jitter.
 */
export function buildSqsClient(config: Config): SQSClient {
  const region = config.sqs.region ?? regionOfQueueUrl(config.sqs.queueUrlTemplate ?? config.sqs.queueUrl ?? '');
  return new SQSClient({
    ...(region === undefined ? {} : { region }),
    ...(config.sqs.endpoint === undefined ? {} : { endpoint: config.sqs.endpoint }),
    retryMode: 'standard',
    maxAttempts: 4,
  });
}

/** SOURCE=sqs. Messages that cannot become a frame are logged by the source and counted in `sse_invalid_messages_total`. */
export function buildSqsSource(config: Config, hooks: SourceHooks = {}): SqsSource {
  return new SqsSource(buildSqsClient(config), {
    // loadConfig has checked it already; this only narrows the type, with the same rule and message.
    queues: requireSqsQueues(config.sqs),
    waitSeconds: config.sqs.waitSeconds,
    visibilityTimeoutSeconds: config.sqs.visibilityTimeoutSeconds,
    maxMessageBytes: config.server.maxMessageBytes,
    batchFlushMs: config.sqs.batchFlushMs,
  }, {
    ...(hooks.logger === undefined ? {} : { logger: hooks.logger }),
    onInvalidMessage: () => hooks.metrics?.inc('sse_invalid_messages_total'),
  });
}
