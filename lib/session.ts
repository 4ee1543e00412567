import type { ByteSink } from './byte-sink.js';
import type { Connection, EndReason } from './connection.js';
import { formatCursor } from './cursor.js';
import { toRelayError } from './errors.js';
import type { Hub } from './hub.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { BroadcastSource, QueueSource } from './source.js';
import { encodeEvent, encodeRetry } from './sse-encoder.js';

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

export interface SessionContext {
  hub: Hub;
  metrics: Metrics;
  logger: Logger;
  retryMs: number;
  replayMax: number;
}

/**
 * Runs one stream to its end: `retry:` first, then replay (broadcast, when resuming), then live events until the client
 * leaves (`signal`), time is up, or the stream is cut. Resolves with the reason it ended; never rejects.
 */
export async function runSession(
  context: SessionContext,
  source: BroadcastSource | QueueSource,
  plan: SessionPlan,
  sink: ByteSink,
  signal: AbortSignal,
): Promise<EndReason> {
  sink.write(Buffer.from(encodeRetry(context.retryMs)));
  let resolveEnd!: (reason: EndReason) => void;
  const ended = new Promise<EndReason>((resolve) => (resolveEnd = resolve));
  try {
    await context.hub.prepare(plan.topics);
  } catch (error) {
    context.logger.warn({ err: toRelayError(error).cause ?? error }, 'stream ended: source unavailable');
    sink.write(Buffer.from(encodeRetry(context.retryMs)));
    sink.end();
    return 'source-error';
  }
  const connection = context.hub.open(plan.topics, sink, plan.endsAt, resolveEnd);
  connection.endReason = plan.endReason;
  const onAbort = (): void => connection.end('client-closed', 0);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (source.delivery === 'broadcast') await replayThenGoLive(context, source, plan, connection);
    else void consumeQueue(context, source, plan, connection, ended);
  } catch (error) {
    context.metrics.inc('sse_source_errors_total');
    context.logger.warn({ err: error }, 'stream ended: replay failed');
    context.hub.end(connection, 'source-error');
  }
  const reason = await ended;
  signal.removeEventListener('abort', onAbort);
  return reason;
}

async function replayThenGoLive(context: SessionContext, source: BroadcastSource, plan: SessionPlan, connection: Connection): Promise<void> {
  if (plan.cursor.size > 0) {
    const until = context.hub.topicFanout.positions(plan.topics);
    const position = new Map(until);
    for (const [topic, after] of plan.cursor) position.set(topic, after);
    context.metrics.inc('sse_replays_total');
    let resetSent = false;
    for (const [topic, after] of plan.cursor) {
      const replay = await source.replay(topic, after, until.get(topic) ?? '0', context.replayMax);
      if (replay.gap && !resetSent) {
        resetSent = true;
        context.metrics.inc('sse_resets_total');
        const data = JSON.stringify({ reason: 'cursor-expired', topics: [...plan.cursor.keys()] });
        connection.send(Buffer.from(encodeEvent({ event: RESET_EVENT, data })));
      }
      for (const message of replay.messages) {
        position.set(topic, message.position);
        const frame = encodeEvent({ id: formatCursor(position), event: message.event, data: message.data });
        if (!connection.send(Buffer.from(frame))) return;
      }
      context.metrics.inc('sse_replayed_events_total', replay.messages.length);
      context.metrics.inc('sse_events_delivered_total', replay.messages.length);
      position.set(topic, until.get(topic) ?? '0');
    }
  }
  connection.goLive();
}

async function consumeQueue(
  context: SessionContext,
  source: QueueSource,
  plan: SessionPlan,
  connection: Connection,
  ended: Promise<EndReason>,
): Promise<void> {
  const stop = new AbortController();
  void ended.then(() => stop.abort());
  connection.goLive();
  try {
    for await (const delivery of source.consume(plan.topics, stop.signal)) {
      let frame: Buffer;
      try {
        frame = Buffer.from(encodeEvent({ id: delivery.id, event: delivery.event, data: delivery.data }));
      } catch (error) {
        // Left unacknowledged: the queue redelivers it and, after maxReceiveCount, moves it to the dead-letter queue.
        context.metrics.inc('sse_invalid_messages_total');
        context.logger.warn({ topic: delivery.topic, messageId: delivery.id, err: error }, 'queue message cannot be a frame');
        continue;
      }
      try {
        await connection.writeConfirmed(frame);
      } catch {
        await delivery.release();
        break;
      }
      context.metrics.inc('sse_events_delivered_total');
      await delivery.ack();
    }
  } catch (error) {
    context.metrics.inc('sse_source_errors_total');
    context.logger.warn({ err: error }, 'queue consumer failed');
    context.hub.end(connection, 'source-error');
  }
}
