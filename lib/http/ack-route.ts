import { assertAllowed, type Authorizer } from '../auth/authorizer.js';
import { isRelayError, RelayError } from '../errors.js';
import { json, type BodyResponse, type RelayRequest } from '../request.js';
import type { Metrics } from '../metrics.js';
import { clientKey } from '../limits/client-key.js';
import type { RateLimiter } from '../limits/rate-limit.js';
import { assertPlainBody } from './content-coding.js';
import type { AckRegistry } from '../engine/queue-ack.js';
import { MAX_HANDLE_LENGTH, parseQueueHandle } from '../queue-handle.js';
import type { Source } from '../source.js';
import { assertTopic } from '../sse/topics.js';

export interface AckRouteOptions {
  source: Source;
  authorizer: Authorizer;
  registry: AckRegistry;
  metrics: Metrics;
  /** Whether QUEUE_ACK=client is on (with a queue source); otherwise the route does not exist. */
  enabled: boolean;
  maxBodyBytes: number;
  /** Most ids in one acknowledgement (QUEUE_PREFETCH is the most a stream can hold). */
  maxIds: number;
  /** ACK_MISSES_PER_MINUTE, keyed like the publish rate (the token's subject, or the client address without one). */
  missLimiter?: RateLimiter;
}

/**
 * `POST /ack {"topic": T, "ids": [...]}` → `200 {"acked": n}` (QUEUE_ACK=client). A token allowed to subscribe to T
 * acknowledges the frames it handled, by their ids (the messages' handles). Messages held by a stream of this process
 * are settled there; the others are removed through the source, so the acknowledgement may reach any process.
 */
export async function acknowledge(request: RelayRequest, options: AckRouteOptions): Promise<BodyResponse> {
  if (!options.enabled || options.source.delivery !== 'queue') throw new RelayError('not_found', 'POST /ack needs a queue source with QUEUE_ACK=client');
  if (!/^application\/json\s*(;|$)/i.test(request.header('content-type') ?? '')) {
    throw new RelayError('unsupported_media_type', 'POST /ack needs Content-Type: application/json');
  }
  assertPlainBody(request, 'POST /ack');
  // Credentials first, from the headers alone: an unauthenticated client never gets a body read.
  const principal = await options.authorizer.authenticate(request);
  const limitKey = principal.limitKey ?? `address:${clientKey(request.remoteAddress)}`;
  const { topic, ids } = parseAckBody(await request.readBody(options.maxBodyBytes), options.maxIds);
  assertAllowed(principal, 'subscribe', [topic]);
  // Settled by a stream of this process or through the source: either way the source removes the message, and a
  // source that does not answer (Redis paused, SQS away) is a 503 to retry, not an internal error.
  try {
    const elsewhere: string[] = [];
    for (const id of ids) if (!(await options.registry.acknowledge(id))) elsewhere.push(id);
    if (elsewhere.length > 0) {
      // What the source is asked costs it a scan of the holding list (redis-list) or a call (SQS), made-up ids as
      // much as real ones: a token whose ids keep finding nothing is refused before the source is asked again.
      options.missLimiter?.assertAvailable(limitKey);
      const misses = await options.source.acknowledge(topic, elsewhere);
      if (misses > 0) {
        options.missLimiter?.charge(limitKey, misses);
        options.metrics.inc('sse_queue_ack_misses_total', misses);
      }
    }
  } catch (error) {
    if (isRelayError(error)) throw error;
    throw new RelayError('source_unavailable', 'the source did not take the acknowledgement', { cause: error, retryAfterSeconds: 5 });
  }
  options.metrics.inc('sse_queue_acks_total', ids.length);
  return json(200, { acked: ids.length });
}

/**
 * How many ids one `POST /ack` may carry (at least 100, and a whole QUEUE_PREFETCH window), and the largest body read
 * for them: that many handles of the longest length accepted, quoted and separated, plus the topic, or MAX_BODY_BYTES
 * when that is larger (a full batch of SQS receipt handles, up to 1,024 characters each, is larger than 128 KiB).
 */
export function ackLimits(prefetch: number, maxBodyBytes: number): { maxIds: number; maxBodyBytes: number } {
  const maxIds = Math.max(100, prefetch);
  return { maxIds, maxBodyBytes: Math.max(maxBodyBytes, maxIds * (MAX_HANDLE_LENGTH + 3) + 1_024) };
}

/** Parses `{topic, ids}`: ids are handles this server issued for that topic. */
export function parseAckBody(body: Uint8Array, maxIds: number): { topic: string; ids: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw new RelayError('invalid_body', 'body is not UTF-8 JSON');
  }
  const { topic, ids } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  assertTopic(topic);
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > maxIds) {
    throw new RelayError('invalid_body', `ids must be an array of 1 to ${maxIds} event ids`);
  }
  for (const id of ids) {
    if (typeof id !== 'string' || parseQueueHandle(id)?.topic !== topic) {
      throw new RelayError('invalid_body', `every id must be the id of an event of topic ${topic} (QUEUE_ACK=client)`);
    }
  }
  return { topic, ids: [...new Set(ids as string[])] };
}
