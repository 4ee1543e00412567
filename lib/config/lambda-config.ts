import { LAMBDA_DEFAULTS as D } from './defaults.js';
import type { EnvReader } from './env-reader.js';

/**
 * Smallest LAMBDA_DEADLINE_MARGIN_MS, ms: deadlines are checked on the hub's 1 s tick, and the final `retry:` must
 * still leave before the runtime stops the invocation, so the margin must exceed one tick with 0.5 s to spare.
 */
export const MIN_DEADLINE_MARGIN_MS = 1_500;

/** Lambda's limit on one streamed response, bytes ("200 MB"; read as 200,000,000, the stricter reading). */
export const LAMBDA_RESPONSE_LIMIT_BYTES = 200_000_000;

/** Settings that only the Lambda function URL uses. Defaults: LAMBDA_DEFAULTS. */
export interface LambdaConfig {
  /** A stream ends this long before the invocation's deadline, ms; at least MIN_DEADLINE_MARGIN_MS. */
  deadlineMarginMs: number;
  /** Bytes of comment padding written after each batch to push small writes through the function URL; 0 = off. */
  flushPaddingBytes: number;
  /**
   * A stream ends itself (position, then a jittered `retry:`) once it has written this many bytes, so it never reaches
   * Lambda's 200 MB limit on a streamed response; the browser resumes in a new invocation.
   */
  maxResponseBytes: number;
}

export function readLambdaConfig(env: EnvReader): LambdaConfig {
  return {
    deadlineMarginMs: env.integer('LAMBDA_DEADLINE_MARGIN_MS', D.LAMBDA_DEADLINE_MARGIN_MS.value, MIN_DEADLINE_MARGIN_MS, 600_000),
    flushPaddingBytes: env.integer('FLUSH_PADDING_BYTES', D.FLUSH_PADDING_BYTES.value, 0, 65_536),
    maxResponseBytes: env.integer('LAMBDA_MAX_RESPONSE_BYTES', D.LAMBDA_MAX_RESPONSE_BYTES.value, 1_024, LAMBDA_RESPONSE_LIMIT_BYTES - 1_048_576),
  };
}
