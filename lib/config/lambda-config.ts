import { LAMBDA_DEFAULTS as D } from './defaults.js';
import { ConfigError } from './config-error.js';
import type { EnvReader } from './env-reader.js';

/**
 * Smallest LAMBDA_DEADLINE_MARGIN_MS, ms: deadlines are checked on the hub's 1 s tick, and the final `retry:` must
 * still leave before the runtime stops the invocation, so the margin must exceed one tick with 0.5 s to spare.
 */
export const MIN_DEADLINE_MARGIN_MS = 1_500;

/**
 * FLUSH_PADDING_BYTES: 0 (off), or a padding line of 2 (`:` and the LF, lib/adapters/flush-padding-sink.ts) to 65,536
 * bytes. 1 read as a number but failed every stream when its sink was built; serverless/runtime-rules.cjs keeps the
 * package-time check equal to this.
 */
export const FLUSH_PADDING_RANGE = { min: 2, max: 65_536 } as const;

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
    flushPaddingBytes: readFlushPadding(env),
    maxResponseBytes: env.integer('LAMBDA_MAX_RESPONSE_BYTES', D.LAMBDA_MAX_RESPONSE_BYTES.value, 1_024, LAMBDA_RESPONSE_LIMIT_BYTES - 1_048_576),
  };
}

function readFlushPadding(env: EnvReader): number {
  const { min, max } = FLUSH_PADDING_RANGE;
  const bytes = env.integer('FLUSH_PADDING_BYTES', D.FLUSH_PADDING_BYTES.value, 0, max);
  if (bytes !== 0 && bytes < min) throw new ConfigError('FLUSH_PADDING_BYTES', `0 (off) or a whole number from ${min} to ${max} (the padding line is \`:\`, spaces and a newline)`, String(bytes));
  return bytes;
}
