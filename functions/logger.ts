import { pino, type DestinationStream } from 'pino';
import type { Logger } from '../lib/logger.js';

/**
 * JSON-lines logger (one object per line: `level`, `time`, `service`, `msg`, and the fields; requests carry
 * `requestId`). The core never logs a query string, a body or a token; as a second line of defence any field named
 * like a credential is redacted wherever it appears.
 *
 * @param level pino level (LOG_LEVEL). @param destination where lines go; default stdout.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger & { child(fields: object): Logger } {
  return pino(
    {
      level,
      base: { service: 'sse-relay' },
      redact: {
        paths: ['token', 'authorization', 'cookie', 'access_token', 'data', 'headers.authorization', 'headers.cookie', '*.access_token', '*.token', '*.authorization'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
