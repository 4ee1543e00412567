import type { RelayError } from '../errors.js';
import { SSE_HEADERS, type RelayRequest, type StreamResponse } from '../request.js';
import { jitter } from '../engine/jitter.js';
import { encodeComment, encodeRetry } from '../sse/encoder.js';

// Refusals that mean "come back soon" rather than "something is wrong with this request".
const TRANSIENT = new Set<RelayError['code']>(['overloaded', 'shutting_down']);

/**
 * True when a refusal should reach an EventSource as a reconnect hint rather than as a 503. EventSource (the WHATWG
 * spec, browsers, and the `eventsource` npm package 4.x and 5.x alike) fails for good on any status but 200 and never reads
 * Retry-After, so a 503 during a deploy or a storm would leave a plain `new EventSource(url)` closed forever.
 */
export function wantsReconnectHint(error: RelayError, request: RelayRequest): boolean {
  return request.path === '/events' && TRANSIENT.has(error.code) && (request.header('accept') ?? '').includes('text/event-stream');
}

/**
 * A stream that only says when to come back: a comment naming the refusal and `retry:` with the jittered delay, then
 * its end. Every EventSource honours it by reconnecting after that delay with its Last-Event-ID, so it resumes exactly.
 */
export function reconnectHint(error: RelayError): StreamResponse {
  const delayMs = error.retryAfterMs ?? jitter((error.retryAfterSeconds ?? 1) * 1_000);
  const body = Buffer.from(encodeComment(error.code) + encodeRetry(delayMs));
  return {
    kind: 'stream',
    status: 200,
    headers: { ...SSE_HEADERS, 'retry-after': String(Math.ceil(delayMs / 1_000)) },
    refusal: true,
    run: (sink) => {
      sink.write(body);
      sink.end();
      return Promise.resolve();
    },
  };
}
