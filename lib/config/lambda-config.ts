import type { EnvReader } from './env-reader.js';

/** Settings that only the Lambda function URL uses. */
export interface LambdaConfig {
  /** A stream ends this long before the invocation's deadline, ms. Default 5000. */
  deadlineMarginMs: number;
  /** Bytes of comment padding written after each batch to push small writes through the function URL; 0 = off. Default 0. */
  flushPaddingBytes: number;
}

export function readLambdaConfig(env: EnvReader): LambdaConfig {
  return {
    deadlineMarginMs: env.integer('LAMBDA_DEADLINE_MARGIN_MS', 5_000, 0, 600_000),
    flushPaddingBytes: env.integer('FLUSH_PADDING_BYTES', 0, 0, 65_536),
  };
}
