import { pino } from 'pino';
import type { Logger } from '../lib/logger.js';

/** JSON-lines logger. Tokens in query strings and Authorization headers are redacted wherever they appear. */
export function createLogger(level: string): Logger & { child(fields: object): Logger } {
  return pino({
    level,
    base: { service: 'sse-relay' },
    redact: { paths: ['token', 'authorization', 'headers.authorization', 'headers.cookie', '*.access_token'], censor: '[redacted]' },
  });
}
