import type { ByteSink } from './byte-sink.js';
import type { Connection } from './connection.js';
import type { EndReason } from './connection-plan.js';
import { comparePositions, formatCursor } from '../sse/cursor.js';
import { RelayError, toRelayError } from '../errors.js';
import type { Hub } from './hub.js';
import { jitter } from './jitter.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { openQueueStream, type QueueSessionContext } from './queue-session.js';
import type { BroadcastSource, QueueSource, ReplayResult } from '../source.js';
import { encodeEvent, encodePosition, encodeRetry } from '../sse/encoder.js';
import type { TopicFanout } from './topic-fanout.js';

/** Event type of the reserved reset event: the cursor was older than what is retained, so something was missed. */
export const RESET_EVENT = 'relay.reset';

/** What a stream was asked for, after validation and authorization. */
export interface SessionPlan {
  topics: string[];
  /** Where to resume, per topic (broadcast only); empty for a fresh subscription. */
  cursor: Map<string, string>;
  /** Epoch ms at which the stream ends itself with a jittered `retry:`, and why. */
  endsAt: number;
  endReason: EndReason;
}

export interface SessionContext extends QueueSessionContext {
  hub: Hub;
  /** The hub's live fan-out (broadcast sources): where a replay stops and what it reads. Undefined for queue sources. */
  fanout: TopicFanout | undefined;
  metrics: Metrics;
  logger: Logger;
  retryMs: number;
  replayMax: number;
}

/**
 * Runs one stream to its end: `retry:` first, then replay (broadcast, when resuming), then live events until the client
 * leaves (the sink closes), time is up, or the stream is cut. Resolves with the reason it ended; never rejects.
 *
 * Written with callbacks rather than as an async function on purpose: a suspended async frame per open stream costs
 * memory for hours, and idle streams are what a process holds most of.
 */
export function runSession(
  context: SessionContext,
  source: BroadcastSource | QueueSource,
  plan: SessionPlan,
  sink: ByteSink,
): Promise<EndReason> {
  writeRetry(context, sink);
  // Topics were prepared before the headers left; this only matters if the last subscriber of a topic left meanwhile.
  return (context.fanout === undefined ? Promise.resolve() : prepared(context.fanout, plan.topics)).then(
    () => openConnection(context, source, plan, sink),
    (error: unknown) => {
      context.logger.warn({ err: toRelayError(error).cause ?? error }, 'stream ended: source unavailable');
      writeRetry(context, sink);
      sink.end();
      return 'source-error';
    },
  );
}

/**
 * The stream's reconnect delay, jittered per stream like the one a stream ends with: a crowd cut without a last frame
 * (a relay killed, a load balancer or an ingress reload closing every connection at once) comes back spread over a
 * second or more, not all `RETRY_MS` later in the same instant.
 */
function writeRetry(context: SessionContext, sink: ByteSink): void {
  const frame = Buffer.from(encodeRetry(jitter(context.retryMs)));
  sink.write(frame);
  context.metrics.addBytesWritten(frame.byteLength);
}

// Rounds of preparation before a stream gives up (source_unavailable, so the client retries): each needs the last
// subscriber of one of its topics to leave while another was being prepared.
const PREPARE_ROUNDS = 5;

/**
 * Resolves once every topic's live subscription is in place at one moment, so the connection joins them all in the same
 * turn. Preparing one topic takes a source round trip; if the last subscriber of another leaves meanwhile, that one's
 * subscription ends, and a new one would start at a newer head: a replay stopping at a position it never had would skip
 * what lies between.
 */
async function prepared(fanout: TopicFanout, topics: readonly string[]): Promise<void> {
  for (let round = 0; round < PREPARE_ROUNDS; round++) {
    await fanout.ensure(topics);
    if (fanout.live(topics)) return;
  }
  throw new RelayError('source_unavailable', 'the topics\' live subscriptions kept ending while the stream opened', { retryAfterSeconds: 1 });
}

function openConnection(
  context: SessionContext,
  source: BroadcastSource | QueueSource,
  plan: SessionPlan,
  sink: ByteSink,
): Promise<EndReason> {
  return new Promise<EndReason>((resolve) => {
    const { topics, endsAt, endReason } = plan;
    if (source.delivery === 'queue') return openQueueStream(context, source, { topics, endsAt, endReason, onEnd: resolve }, sink);
    const fanout = context.fanout;
    if (fanout === undefined) throw new RelayError('internal', 'a broadcast stream needs the hub\'s fan-out (SessionContext.fanout)');
    const connection = context.hub.open({ topics, endsAt, endReason, onEnd: resolve }, sink);
    replayThenGoLive(context, fanout, plan, connection).catch((error: unknown) => {
      context.metrics.inc('sse_source_errors_total');
      context.logger.warn({ err: error }, 'stream ended: replay failed');
      connection.end('source-error');
    });
  });
}

function endTruncated(connection: Connection, position: Map<string, string>, topic: string, at: string): void {
  position.set(topic, at);
  if (connection.sendReplay(Buffer.from(encodePosition(formatCursor(position))))) connection.end('replay-budget');
}

/** One topic's replay, read before anything of the stream's replay is sent. */
interface TopicReplay {
  topic: string;
  after: string;
  replay: ReplayResult;
}

async function replayThenGoLive(context: SessionContext, fanout: TopicFanout, plan: SessionPlan, connection: Connection): Promise<void> {
  if (plan.cursor.size > 0) {
    const until = fanout.positions(plan.topics);
    const position = new Map(until);
    for (const [topic, after] of plan.cursor) position.set(topic, after);
    context.metrics.inc('sse_replays_total');
    const replays = await readReplays(context, fanout, plan, connection, until);
    // Every topic was read first, so that the one reset names exactly the topics whose cursor expired (the page reloads
    // those) and comes before every replayed message (a page reloading on it would otherwise drop messages it showed).
    const expired = replays.filter(({ replay }) => replay.gap).map(({ topic }) => topic);
    if (expired.length > 0) {
      context.metrics.inc('sse_resets_total');
      connection.sendReplay(Buffer.from(encodeEvent({ event: RESET_EVENT, data: JSON.stringify({ reason: 'cursor-expired', topics: expired }) })));
    }
    for (const { topic, after, replay } of replays) {
      let given = 0;
      for (const message of replay.messages) {
        position.set(topic, message.position);
        const frame = encodeEvent({ id: formatCursor(position), event: message.event, data: message.data });
        if (!connection.sendReplay(Buffer.from(frame))) break;
        given += 1;
      }
      // What the stream was given, also when it was cut part-way (a slow consumer resumes from its last id).
      context.metrics.inc('sse_replayed_events_total', given);
      context.metrics.inc('sse_events_delivered_total', given);
      if (given < replay.messages.length) return;
      // The source left entries unread (byte budget): the stream ends standing where the read stopped (past entries it
      // skipped as invalid too, or a client would read them again on every reconnect), and the client resumes at once.
      if (replay.truncatedAt !== undefined) return endTruncated(connection, position, topic, replay.truncatedAt);
      position.set(topic, resumesAt(after, until.get(topic) ?? '0', replay));
    }
  }
  connection.goLive();
}

/**
 * Reads each topic's replay in cursor order, within one byte budget for all of them (more than the stream can queue
 * would only be cut off); stops after a replay the budget cut short, since the stream then ends there.
 */
async function readReplays(context: SessionContext, fanout: TopicFanout, plan: SessionPlan, connection: Connection, until: Map<string, string>): Promise<TopicReplay[]> {
  const replays: TopicReplay[] = [];
  let budget = connection.replayBudgetBytes;
  for (const [topic, after] of plan.cursor) {
    const replay = await fanout.replay(connection, topic, after, until.get(topic) ?? '0', context.replayMax, Math.max(1, budget));
    replays.push({ topic, after, replay });
    if (replay.truncatedAt !== undefined) break;
    for (const message of replay.messages) budget -= message.data.length;
  }
  return replays;
}

/**
 * Where the stream stands in a topic once its replay is done: the live position, except for a client that resumed
 * ahead of it (another instance's feed delivered more first, and the replay found no gap): that client keeps its own
 * position, or the ids of the other topics' frames would move it back and a reconnect would bring those messages again.
 */
function resumesAt(after: string, live: string, replay: ReplayResult): string {
  return !replay.gap && comparePositions(after, live) > 0 ? after : live;
}
