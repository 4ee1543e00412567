import { fdLogDestination } from '../lib/adapters/fd-log-destination.js';
import { JsonLogger, LOG_LEVELS, type LogDestination, type LogLevel } from '../lib/logger.js';
import { fieldsJson } from '../lib/log-fields.js';

/**
 * JSON-lines logger (one object per line: `level`, `time`, `service`, the fields, `msg`; requests carry `requestId`).
 * The core never logs a query string, a body or a token; as a second line of defence any field named like a credential
 * is redacted wherever it appears (lib/log-fields.ts).
 *
 * @param level LOG_LEVEL. @param destination where lines go; default stdout, written synchronously so that the last
 * line before an exit is not lost (lib/adapters/fd-log-destination.ts). @param context fields added to every line when
 * it is written.
 */
export function createLogger(level: string, destination: LogDestination = fdLogDestination(1), context?: () => object): JsonLogger {
  if (!(level in LOG_LEVELS)) throw new Error(`LOG_LEVEL "${level}" is not one of ${Object.keys(LOG_LEVELS).join(', ')}`);
  return new JsonLogger({ level: level as LogLevel, destination, ...(context === undefined ? {} : { context }) }, fieldsJson({ service: 'sse-relay' }));
}
