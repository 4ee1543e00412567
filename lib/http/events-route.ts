import { authorize, type Authorizer } from '../auth/authorizer.js';
import type { ConnectionLimits } from '../limits/connection-limits.js';
import { RelayError } from '../errors.js';
import { longestCursorLength, MAX_CURSOR_LENGTH, parseCursor } from '../sse/cursor.js';
import { SSE_HEADERS, type RelayRequest, type StreamResponse } from '../request.js';
import { runSession, type SessionContext, type SessionPlan } from '../engine/session.js';
import type { Source } from '../source.js';
import { parseTopics } from '../sse/topics.js';

export interface EventsRouteOptions {
  session: SessionContext;
  source: Source;
  authorizer: Authorizer;
  limits: ConnectionLimits;
  maxTopics: number;
  maxSessionMs: number;
  /** QUEUE_ACK=client with QUEUE_ACK_URL: where this queue stream's browser is told to send POST /ack. */
  ackUrl?: string | undefined;
}

/**
 * `GET /events?topic=T[&topic=U]`: everything that can fail is checked before the stream starts, so a bad request gets
 * its 4xx/5xx as JSON; after that the headers leave at once and the session runs.
 *
 * Every refusal that needs no slot (topics, auth, cursor) is decided before a connection slot is taken; the one check
 * that needs the slot held (the source, which may be slow) gives it back when it fails. A refusal never keeps a slot.
 */
export async function openEventStream(request: RelayRequest, options: EventsRouteOptions): Promise<StreamResponse> {
  const { source } = options;
  if (hasBody(request)) throw new RelayError('invalid_request', 'GET /events takes no body; send none (EventSource never does)');
  const topics = parseTopics(request.query.getAll('topic'), options.maxTopics);
  if (source.delivery === 'broadcast') assertResumable(topics);
  const principal = await authorize(options.authorizer, request, 'subscribe', topics);
  const lastEventId = request.header('last-event-id') ?? request.query.get('lastEventId') ?? '';
  // Queue sources hand each message to one subscriber and cannot replay, so their ids are not cursors.
  const cursor = source.delivery === 'broadcast'
    ? parseCursor(lastEventId, topics, (position) => source.acceptsPosition(position))
    : new Map<string, string>();
  const plan = planSession(topics, cursor, options.maxSessionMs, principal.expiresAt, request.deadline);
  const release = options.limits.acquire(request.remoteAddress);
  try {
    if (source.delivery === 'broadcast') await options.session.fanout?.ensure(topics);
    else await source.check(topics);
  } catch (error) {
    release();
    throw error;
  }
  return {
    kind: 'stream',
    status: 200,
    headers: source.delivery === 'queue' && options.ackUrl !== undefined ? { ...SSE_HEADERS, [ACK_URL_HEADER]: options.ackUrl } : SSE_HEADERS,
    run: (sink) => runSession(options.session, source, plan, sink).then(release, (error: unknown) => {
      release();
      throw error;
    }),
  };
}

/**
 * Tells a queue stream's browser where to acknowledge (QUEUE_ACK_URL). On Lambda that is the publish function: an
 * acknowledgement sent next to /events needs an execution of the stream function, which the streams may all hold.
 */
export const ACK_URL_HEADER = 'sse-ack-url';

/**
 * A stream's request is complete once its headers are in, so no deadline of the request ever cuts the stream. One that
 * announces a body is not: opened, it was cut at REQUEST_TIMEOUT_MS if the body never ended, with no position and no
 * `retry:`. A GET body means nothing here (RFC 9110 §9.3.1) and EventSource never sends one, so it is refused.
 */
function hasBody(request: RelayRequest): boolean {
  const length = request.header('content-length');
  return request.header('transfer-encoding') !== undefined || (length !== undefined && !/^0+$/.test(length));
}

/**
 * A broadcast stream's ids are cursors naming every topic, and its reconnect sends the last one back as Last-Event-ID,
 * which may hold MAX_CURSOR_LENGTH characters. A topic set whose cursor could be longer (about 47 topics of 128
 * characters; MAX_TOPICS allows up to 1000) is refused now: opened, its reconnect would be refused and the browser
 * would give up for good. (Queue sources' ids are message handles, not cursors.)
 */
function assertResumable(topics: readonly string[]): void {
  const longest = longestCursorLength(topics);
  if (longest <= MAX_CURSOR_LENGTH) return;
  throw new RelayError('too_many_topics', `the ids of this subscription could reach ${longest} characters, over the ${MAX_CURSOR_LENGTH} a Last-Event-ID may hold: subscribe to fewer or shorter topics`);
}

/**
 * When the stream ends itself and why: the earliest of the jittered max session, the credentials' expiry and the
 * runtime's deadline. The authorizer has already refused credentials that are no longer valid, so an end in the past
 * can only be a race of a few milliseconds; the stream then ends at the hub's next tick with its position and `retry:`.
 */
function planSession(
  topics: string[],
  cursor: Map<string, string>,
  maxSessionMs: number,
  tokenExpiresAt: number | undefined,
  deadline: number | undefined,
): SessionPlan {
  // Up to 10% shorter at random, so streams opened together do not all reconnect together.
  let endsAt = Date.now() + Math.round(maxSessionMs * (1 - 0.1 * Math.random()));
  let endReason: SessionPlan['endReason'] = 'max-session';
  if (tokenExpiresAt !== undefined && tokenExpiresAt < endsAt) [endsAt, endReason] = [tokenExpiresAt, 'token-expired'];
  if (deadline !== undefined && deadline < endsAt) [endsAt, endReason] = [deadline, 'deadline'];
  return { topics, cursor, endsAt, endReason };
}
