import { unknownField } from '../lib/sse/field-rules.js';
import { PublishError } from './publish-error.js';

/**
 * Throws PublishError `invalid_config` when `options` is not an object or has a key outside `allowed`: a misspelt
 * option (`retry`, `timeout`) would otherwise be ignored and its default used without a word.
 */
export function checkOptionNames(where: string, options: unknown, allowed: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new PublishError('invalid_config', `${where} takes an options object { ${allowed.join(', ')} }; got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : `a ${typeof options}`}`);
  }
  const unknown = unknownField(options, allowed);
  if (unknown !== undefined) throw new PublishError('invalid_config', `${where}: unknown option ${JSON.stringify(unknown)}; the options are ${allowed.join(', ')}`);
}

/** Throws PublishError `invalid_config` unless `value` is undefined or a whole number of ms ≥ 1 that a timer can hold. */
export function checkTimeoutMs(where: string, value: unknown): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_TIMER_MS)) {
    throw new PublishError('invalid_config', `${where} timeoutMs must be a whole number of ms from 1 to ${MAX_TIMER_MS}; got ${String(value)}`);
  }
}

/** setTimeout's largest delay, ms; a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
