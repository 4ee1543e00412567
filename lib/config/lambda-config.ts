import { ConfigError } from './config-error.js';
import type { Env, EnvReader } from './env-reader.js';
import type { QueueConfig } from './queue-config.js';
import type { SourceMode } from './server-config.js';

/**
 * Smallest LAMBDA_DEADLINE_MARGIN_MS, ms: deadlines are checked on the hub's 1 s tick, and the final `retry:` must
 * still leave before the runtime stops the invocation, so the margin must exceed one tick with 0.5 s to spare.
 */
export const MIN_DEADLINE_MARGIN_MS = 1_500;

/** Settings that only the Lambda function URL uses. */
export interface LambdaConfig {
  /** A stream ends this long before the invocation's deadline, ms; at least 1500 (see MIN_DEADLINE_MARGIN_MS). Default 5000. */
  deadlineMarginMs: number;
  /** Bytes of comment padding written after each batch to push small writes through the function URL; 0 = off. Default 0. */
  flushPaddingBytes: number;
  /**
   * A stream ends itself (position, then a jittered `retry:`) once it has written this many bytes, so it never reaches
   * Lambda's 200 MB limit on a streamed response; the browser resumes in a new invocation. Default 188743680 (180 MiB:
   * the rest is headroom for the frames of the turn in which the budget runs out).
   */
  maxResponseBytes: number;
}

/** Lambda's limit on one streamed response, bytes ("200 MB"; read as 200,000,000, the stricter reading). */
export const LAMBDA_RESPONSE_LIMIT_BYTES = 200_000_000;

export function readLambdaConfig(env: EnvReader): LambdaConfig {
  return {
    deadlineMarginMs: env.integer('LAMBDA_DEADLINE_MARGIN_MS', 5_000, MIN_DEADLINE_MARGIN_MS, 600_000),
    flushPaddingBytes: env.integer('FLUSH_PADDING_BYTES', 0, 0, 65_536),
    maxResponseBytes: env.integer('LAMBDA_MAX_RESPONSE_BYTES', 180 * 1_048_576, 1_024, LAMBDA_RESPONSE_LIMIT_BYTES - 1_048_576),
  };
}

/**
 * Defaults that differ on Lambda, where a vanished client is invisible (no disconnect signal) and billed by the ms:
 * - SESSION_IDLE_MS 60000: a stream with no event for a minute ends (the browser, if still there, reconnects at once
 *   and resumes), so an abandoned tab holds an invocation at most a minute on a quiet topic.
 * - MAX_SESSION_MS 900000: Lambda's 15-minute cap; the invocation deadline (less LAMBDA_DEADLINE_MARGIN_MS) ends
 *   streams earlier when the function's timeout is shorter.
 * A variable that is set (and not empty) keeps its value.
 */
export const LAMBDA_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  SESSION_IDLE_MS: '60000',
  MAX_SESSION_MS: '900000',
};

/** `env` with {@link LAMBDA_ENV_DEFAULTS} filled in where unset or empty; pass the result to loadConfig. */
export function withLambdaDefaults(env: Env): Env {
  const merged: Record<string, string | undefined> = { ...env };
  for (const [name, value] of Object.entries(LAMBDA_ENV_DEFAULTS)) {
    if ((merged[name]?.trim() ?? '') === '') merged[name] = value;
  }
  return merged;
}

/**
 * Lambda never reports a client that left, so a queue message can only count as delivered when the browser says so:
 * queue sources there require QUEUE_ACK=client. Throws a ConfigError naming QUEUE_ACK otherwise.
 */
export function assertLambdaQueueAck(source: SourceMode, queue: QueueConfig): void {
  if ((source === 'redis-list' || source === 'sqs') && queue.ack !== 'client') {
    throw new ConfigError('QUEUE_ACK', `client on Lambda with SOURCE=${source} (Lambda cannot see a browser leave, so only the browser's POST /ack can confirm a delivery)`, queue.ack);
  }
}
