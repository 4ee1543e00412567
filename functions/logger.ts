import { pino, type DestinationStream } from 'pino';
import type { Logger } from '../lib/logger.js';

/**
 * JSON-lines logger (one object per line: `level`, `time`, `service`, `msg`, and the fields; requests carry
 * `requestId`). The core never logs a query string, a body or a token; as a second line of defence any field named
 * like a credential is redacted wherever it appears.
 *
 * @param level pino level (LOG_LEVEL). @param destination where lines go; default stdout.
 * @param context fields added to every line at the time it is written (default none).
 */
export function createLogger(level: string, destination?: DestinationStream, context?: () => object): Logger & { child(fields: object): Logger } {
  return pino(
    {
      level,
      base: { service: 'sse-relay' },
      // Fields of the moment, e.g. the awsRequestId of the Lambda invocation being served.
      ...(context === undefined ? {} : { mixin: context }),
      redact: {
        // `*.headers.…`: an error (`err`) from an HTTP client or SDK may carry the request's headers.
        paths: [
          'token', 'authorization', 'cookie', 'access_token', 'data', 'headers.authorization', 'headers.cookie',
          '*.access_token', '*.token', '*.authorization', '*.headers.authorization', '*.headers.cookie',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
