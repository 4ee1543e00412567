import type { Authorizer } from './authorizer.js';
import type { ConnectionLimits } from './connection-limits.js';
import { parseCursor } from './cursor.js';
import { RelayError } from './errors.js';
import { SSE_HEADERS, type RelayRequest, type StreamResponse } from './http-types.js';
import { runSession, type SessionContext, type SessionPlan } from './session.js';
import type { Source } from './source.js';
import { parseTopics } from './topics.js';

export interface EventsRouteOptions {
  session: SessionContext;
  source: Source;
  authorizer: Authorizer;
  limits: ConnectionLimits;
  maxTopics: number;
  maxSessionMs: number;
}

/**
 * `GET /events?topic=T[&topic=U]`: everything that can fail is checked before the stream starts, so a bad request gets
 * its 4xx/5xx as JSON; after that the headers leave at once and the session runs.
 */
export async function openEventStream(request: RelayRequest, options: EventsRouteOptions): Promise<StreamResponse> {
  const topics = parseTopics(request.query.getAll('topic'), options.maxTopics);
  const principal = await options.authorizer.authorize(request, 'subscribe', topics);
  const lastEventId = request.header('last-event-id') ?? request.query.get('lastEventId') ?? '';
  // Queue sources hand each message to one subscriber and cannot replay, so their ids are not cursors.
  const cursor = options.source.delivery === 'broadcast' ? parseCursor(lastEventId, topics) : new Map<string, string>();
  const release = options.limits.acquire(request.remoteAddress);
  try {
    if (options.source.delivery === 'broadcast') await options.session.hub.prepare(topics);
    else await options.source.check(topics);
  } catch (error) {
    release();
    throw error;
  }
  const plan = planSession(topics, cursor, options.maxSessionMs, principal.expiresAt, request.deadline);
  return {
    kind: 'stream',
    status: 200,
    headers: SSE_HEADERS,
    run: (sink) => runSession(options.session, options.source, plan, sink).then(release),
  };
}

function planSession(
  topics: string[],
  cursor: Map<string, string>,
  maxSessionMs: number,
  tokenExpiresAt: number | undefined,
  deadline: number | undefined,
): SessionPlan {
  const now = Date.now();
  // Up to 10% shorter at random, so streams opened together do not all reconnect together.
  let endsAt = now + Math.round(maxSessionMs * (1 - 0.1 * Math.random()));
  let endReason: SessionPlan['endReason'] = 'max-session';
  if (tokenExpiresAt !== undefined && tokenExpiresAt < endsAt) [endsAt, endReason] = [tokenExpiresAt, 'token-expired'];
  if (deadline !== undefined && deadline < endsAt) [endsAt, endReason] = [deadline, 'deadline'];
  if (endsAt <= now) throw new RelayError('unauthorized', 'credentials expire before the stream could start');
  return { topics, cursor, endsAt, endReason };
}
