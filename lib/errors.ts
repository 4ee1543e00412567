/**
 * Every error a client can see, listed once. The HTTP status and the one-line meaning live here; the README's error
 * table is checked against this object by a test, so the two cannot drift apart.
 */
export const ERROR_CODES = {
  invalid_request: { status: 400, message: 'the request target is not a path starting with / (origin-form), an HTTP/1.1 request has no Host, a GET /events carries a body, or the request could not be parsed' },
  invalid_topic: { status: 400, message: 'a topic is missing, does not match the topic pattern, or is not one of SQS_QUEUE_TOPICS' },
  invalid_cursor: { status: 400, message: 'Last-Event-ID / lastEventId is not a cursor this server issued' },
  invalid_event_field: { status: 400, message: 'event or id contains CR, LF, NUL or a lone surrogate, or the event uses the reserved relay. prefix or is error or open' },
  invalid_body: { status: 400, message: 'the publish body is not JSON of the form {topic, data, event?, id?} (no other field)' },
  unsupported_message: { status: 400, message: 'the source cannot store this message as it is (SQS: empty data, or characters SQS refuses such as U+0001 or U+FFFE)' },
  too_many_topics: { status: 400, message: 'the subscription names more topics than MAX_TOPICS, or topics whose resume id could pass 8192 characters' },
  unauthorized: { status: 401, message: 'no valid token was presented' },
  forbidden: { status: 403, message: 'the token does not allow this topic' },
  origin_not_allowed: { status: 403, message: 'a page whose origin is not in CORS_ORIGINS asked its browser for a stream (the browser would not let it read one)' },
  not_found: { status: 404, message: 'no such route' },
  method_not_allowed: { status: 405, message: 'the route exists but not for this method' },
  body_too_large: { status: 413, message: 'the request body is larger than MAX_BODY_BYTES' },
  message_too_large: { status: 413, message: 'the message data is larger than MAX_MESSAGE_BYTES' },
  request_timeout: { status: 408, message: 'the request headers or body did not arrive within REQUEST_TIMEOUT_MS; the connection closes' },
  unsupported_media_type: { status: 415, message: 'publish and ack need Content-Type: application/json and a body without Content-Encoding (Transfer-Encoding chunked only)' },
  rate_limited: { status: 429, message: 'too many requests from this client or token; see Retry-After' },
  headers_too_large: { status: 431, message: 'the request line and headers are larger than the server reads (32 KiB in all)' },
  too_many_connections: { status: 503, message: 'the connection limit is reached; see Retry-After' },
  too_many_bodies: { status: 503, message: 'this instance holds as many request bodies as MAX_BODY_BYTES_IN_FLIGHT allows while they arrive; see Retry-After' },
  auth_unavailable: { status: 503, message: 'the token could not be checked (the JWKS endpoint did not answer); see Retry-After' },
  source_unavailable: { status: 503, message: 'the message source (Redis, SQS) cannot be reached; see Retry-After' },
  not_replicated: { status: 503, message: 'Redis did not confirm the message on REDIS_WAIT_REPLICAS replicas in time; retry with the same id' },
  source_full: { status: 503, message: 'Redis is out of memory (maxmemory) and refuses new messages; see Retry-After' },
  shutting_down: { status: 503, message: 'this instance is draining; reconnect elsewhere' },
  overloaded: { status: 503, message: 'this instance is taking new streams faster than it can serve them; see Retry-After' },
  internal: { status: 500, message: 'an unexpected error; the server log has the details' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The one error type sse-relay throws on purpose. A client sees `code`, and for a client error (4xx) `message` too: what
 * was wrong with its own request, written for it (see errorBody). `cause` is for logs only and never leaves the process.
 */
export class RelayError extends Error {
  override readonly name = 'RelayError';
  readonly code: ErrorCode;
  /** Seconds a client should wait before retrying; sent as `Retry-After` with 429 and 503. */
  readonly retryAfterSeconds: number | undefined;
  /** The same delay to the millisecond, when it was jittered finer than seconds (sent as `retry:` to EventSource). */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryAfterSeconds?: number; retryAfterMs?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.retryAfterMs = options.retryAfterMs;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** True when `value` is a RelayError (also across module copies, which `instanceof` misses in bundles). */
export function isRelayError(value: unknown): value is RelayError {
  return value instanceof Error && value.name === 'RelayError' && typeof (value as RelayError).code === 'string';
}

/** The JSON body of a refusal. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
}

/**
 * What a client is told: the code, and what was wrong. A client error (4xx) names the problem with the request itself
 * (`unknown field "x": a publish body has topic, data, event and id only`), so a developer need not find the server's
 * log to learn it; a server-side refusal (5xx) gives only the code's documented meaning, never a dependency's error text.
 */
export function errorBody(error: RelayError): ErrorBody {
  return { error: error.code, message: error.status < 500 && error.message !== '' ? error.message : ERROR_CODES[error.code].message };
}

/** The body for a refusal known only by its code (the adapters' own answers): the code's documented meaning. */
export function errorBodyOf(code: ErrorCode): ErrorBody {
  return { error: code, message: ERROR_CODES[code].message };
}

/** The client-facing view of any thrown value: a known code, or `internal` for everything unexpected. */
export function toRelayError(value: unknown): RelayError {
  if (isRelayError(value)) return value;
  return new RelayError('internal', value instanceof Error ? value.message : String(value), { cause: value });
}
