import { RelayError } from '../../errors.js';

/** Backoff of the receive loop: first retry after up to `baseMs`, doubling, never above `capMs`. */
export interface BackoffSettings {
  /** Default 200 ms. */
  baseMs: number;
  /** Default 10000 ms. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 200, capMs: 10_000 };

/**
 * Delay before retry number `attempt` (0-based), "full jitter": uniform in [0, min(cap, base·2^attempt)), so consumers
 * that failed together do not retry together.
 */
export function backoffMs(attempt: number, settings: BackoffSettings = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.capMs, settings.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

const MISSING_QUEUE = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'NonExistentQueue']);
// Errors retrying cannot fix: the operator must change configuration or permissions (the queue's KMS key included:
// SQS answers these for an encrypted queue the role may not use the key of; KmsThrottled stays transient).
const PERMANENT = new Set([
  'AccessDenied', 'AccessDeniedException', 'InvalidAddress', 'InvalidSecurity', 'UnsupportedOperation',
  'KmsAccessDenied', 'KmsDisabled', 'KmsInvalidKeyUsage', 'KmsInvalidState', 'KmsNotFound', 'KmsOptInRequired',
]);

// Errors about the message itself: sending it again cannot succeed (the publisher gets a 400).
const REFUSED_MESSAGE = new Set(['InvalidMessageContents', 'MissingParameter', 'InvalidParameterValue', 'InvalidAttributeValue', 'InvalidAttributeName']);

/** How the consumer reacts to a failed SQS call. */
export type SqsFailure = 'aborted' | 'missing-queue' | 'permanent' | 'refused-message' | 'transient';

/** Sorts a thrown SDK error. Throttling, 5xx and network errors are `transient`; the caller retries them with backoff. */
export function classifySqsError(error: unknown, signal?: AbortSignal): SqsFailure {
  if (signal?.aborted === true) return 'aborted';
  // The SDK reports SQS's query-compatible codes with their namespace (AWS.SimpleQueueService.InvalidMessageContents).
  const name = (error instanceof Error ? error.name : '').replace(/^AWS\.SimpleQueueService\./, '');
  const code = String((error as { Code?: unknown; code?: unknown } | null)?.Code ?? (error as { code?: unknown } | null)?.code).replace(/^AWS\.SimpleQueueService\./, '');
  if (name === 'AbortError') return 'aborted';
  if (MISSING_QUEUE.has(name) || MISSING_QUEUE.has(code)) return 'missing-queue';
  if (PERMANENT.has(name) || PERMANENT.has(code)) return 'permanent';
  if (REFUSED_MESSAGE.has(name) || REFUSED_MESSAGE.has(code)) return 'refused-message';
  return 'transient';
}

/**
 * The client-facing error for a failure retrying will not fix: `source_unavailable` (503 with Retry-After); the message
 * names the queue for the log, never for the client.
 */
export function sqsUnavailable(queueUrl: string, failure: SqsFailure, cause: unknown): RelayError {
  const what = failure === 'missing-queue'
    ? `SQS queue ${queueUrl} does not exist: create it or fix SQS_QUEUE_URL / SQS_QUEUE_URL_TEMPLATE`
    : failure === 'refused-message'
      ? `SQS refused a request to ${queueUrl} as invalid: ${cause instanceof Error ? cause.message : String(cause)}`
      : `SQS refused access to ${queueUrl} (${cause instanceof Error ? cause.name : 'error'}): check the IAM policy, and for an encrypted queue its KMS key (see docs/sqs.md)`;
  return new RelayError('source_unavailable', what, { cause, retryAfterSeconds: 30 });
}

/** Resolves after `ms`, or at once when `signal` aborts (the timer is cleared then). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref?.();
    signal.addEventListener('abort', done, { once: true });
  });
}
