import { assertAllowed, type Authorizer } from '../auth/authorizer.js';
import { isRelayError, RelayError } from '../errors.js';
import { json, type BodyResponse, type RelayRequest } from '../request.js';
import type { Metrics } from '../metrics.js';
import { parsePublishBody } from './publish-body.js';
import { assertPlainBody } from './content-coding.js';
import { clientKey } from '../limits/client-key.js';
import type { RateLimiter } from '../limits/rate-limit.js';
import type { OutgoingMessage, Source } from '../source.js';

export interface PublishRouteOptions {
  source: Source;
  authorizer: Authorizer;
  metrics: Metrics;
  maxBodyBytes: number;
  maxMessageBytes: number;
  /** PUBLISH_RATE_PER_MINUTE, keyed by the token's subject (or the client address without one). */
  rateLimiter?: RateLimiter;
  /**
   * Throws when this process may take no message now (a draining memory source). Asked before the body is read and
   * again right before the append, which a slow upload can reach after the drain began.
   */
  admit?: () => void;
}

/**
 * `POST /publish` `{topic, data, event?, id?}` → `202 {id}`. Everything the headers can decide (media type, credentials,
 * whether the token may publish at all, the rate limit) is decided before the body is read, so an unauthenticated
 * client never gets the server to buffer or parse a body.
 */
export async function publish(request: RelayRequest, options: PublishRouteOptions): Promise<BodyResponse> {
  options.admit?.();
  const contentType = request.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new RelayError('unsupported_media_type', 'POST /publish needs Content-Type: application/json');
  }
  assertPlainBody(request, 'POST /publish');
  const principal = await options.authorizer.authenticate(request);
  if (!principal.mayPublishAny) throw new RelayError('forbidden', 'the token does not allow publishing to any topic');
  const giveBack = options.rateLimiter?.take(principal.limitKey ?? `address:${clientKey(request.remoteAddress)}`);
  const body = await request.readBody(options.maxBodyBytes);
  const { topic, message } = parsePublishBody(body, options.maxMessageBytes);
  assertAllowed(principal, 'publish', [topic]);
  try {
    options.admit?.();
    const id = await append(options.source, topic, message);
    options.metrics.inc('sse_events_published_total');
    return json(202, { id });
  } catch (error) {
    // The server's failure (5xx: source down or full, not replicated, a drain): the producer retries, and its retries
    // must not spend the rate its next messages need. A refusal for the request itself (a 4xx) keeps what it took.
    if (isRelayError(error) && error.status >= 500) giveBack?.();
    throw error;
  }
}

/** Appends `message` to the source: its position (broadcast) or message id (queue). */
async function append(source: Source, topic: string, message: OutgoingMessage): Promise<string> {
  try {
    return source.delivery === 'broadcast' ? (await source.publish(topic, message)).position : (await source.publish(topic, message)).id;
  } catch (error) {
    if (isRelayError(error)) throw error;
    throw new RelayError('source_unavailable', 'the source did not accept the message', { cause: error, retryAfterSeconds: 5 });
  }
}
