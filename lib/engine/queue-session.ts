import type { ByteSink } from './byte-sink.js';
import type { Connection } from './connection.js';
import type { ConnectionPlan } from './connection-plan.js';
import type { Hub } from './hub.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { AckWindow, AUTO_ACK, type AckRegistry, type QueueAckOptions } from './queue-ack.js';
import type { EndReason } from './connection-plan.js';
import { SettlingAcks } from './settling-acks.js';
import type { Delivery, QueueSource } from '../source.js';
import { encodeEvent } from '../sse/encoder.js';

/** What a queue stream needs from the session context. */
export interface QueueSessionContext {
  hub: Hub;
  metrics: Metrics;
  logger: Logger;
  /** QUEUE_ACK and its settings; default {@link AUTO_ACK}. */
  queueAck?: QueueAckOptions | undefined;
  /** Where POST /ack finds the streams of this process (QUEUE_ACK=client). */
  ackRegistry?: AckRegistry | undefined;
}

/**
 * Opens a queue stream and runs it: takes messages from the source and writes each as a frame. With QUEUE_ACK=auto a
 * message is acknowledged once its frame was accepted by the socket while the connection was open (and, with
 * QUEUE_SETTLE_MS, once the connection then stayed open that long: settling-acks.ts); with
 * QUEUE_ACK=client its frame's id is its handle and it stays held until the browser acknowledges it (POST /ack), at
 * most `prefetch` at a time. Whatever is not acknowledged when the stream ends is released for another subscriber.
 * `plan.onEnd` hears the end after the consumer was told to stop.
 */
export function openQueueStream(context: QueueSessionContext, source: QueueSource, plan: ConnectionPlan, sink: ByteSink): void {
  const ack = context.queueAck ?? AUTO_ACK;
  const registry = ack.mode === 'client' ? context.ackRegistry : undefined;
  // The consumer stops when the stream ends, whatever ended it.
  const stop = new AbortController();
  let window: AckWindow | undefined;
  let endReason: EndReason | undefined;
  const settling = registry === undefined && ack.settleMs > 0 ? new SettlingAcks(() => endReason === undefined, (error) => {
    context.metrics.inc('sse_source_errors_total');
    context.logger.warn({ err: error }, 'queue message not acknowledged: the source did not answer; it will be delivered again');
  }, ack.settleMs) : undefined;
  const connection = context.hub.open({
    ...plan,
    activity: registry === undefined ? 'events' : 'acks',
    onEnd: (reason) => {
      endReason = reason;
      // Before the consumer stops: a source releases what its stopped consumer did not settle, and the first
      // settlement wins, so a stream the server ended would otherwise give back what it wrote (duplicates on a drain).
      void settling?.finish(deliveredBefore(reason));
      stop.abort();
      window?.close();
      plan.onEnd(reason);
    },
  }, sink);
  if (registry !== undefined) window = openWindow(context, registry, ack, connection);
  connection.goLive();
  const graceMs = (): number => (window !== undefined && endReason !== undefined && ACKS_ON_THEIR_WAY.has(endReason) ? ack.graceMs ?? 0 : 0);
  void consumeQueue(context, source, plan.topics, { connection, settling, window, delivered: () => deliveredBefore(endReason), graceMs }, stop.signal);
}

/** What a queue stream's consumer loop works with. */
interface QueueStream {
  connection: Connection;
  /** QUEUE_ACK=auto with QUEUE_SETTLE_MS: written messages waiting to be acknowledged (without it, acknowledged at once). */
  settling: SettlingAcks | undefined;
  /** QUEUE_ACK=client: messages waiting for the browser's acknowledgement. */
  window: AckWindow | undefined;
  /** Once the stream ended: whether what it wrote counts as read (see deliveredBefore). */
  delivered(): boolean;
  /** Once the stream ended: how long what its browser has not acknowledged stays held (QUEUE_ACK_GRACE_MS, or 0). */
  graceMs(): number;
}

/**
 * The ends after which a browser's acknowledgements of the last frames may still be on their way (QUEUE_ACK_GRACE_MS):
 * the server ended a stream its browser was reading and acknowledging. Not a client that left or stopped reading, nor
 * one that acknowledged nothing for QUEUE_ACK_TIMEOUT_MS or SESSION_IDLE_MS, nor a source that failed.
 */
const ACKS_ON_THEIR_WAY: ReadonlySet<EndReason> = new Set<EndReason>(['max-session', 'shutdown', 'token-expired', 'deadline', 'response-budget']);

/**
 * Whether frames a stream wrote before it ended count as read: yes when the server ended it (the client reads what
 * came before the end of the response), no when the client left or stopped reading (a slow consumer), whose unread
 * frames are discarded with its socket.
 */
function deliveredBefore(reason: EndReason | undefined): boolean {
  return reason !== undefined && reason !== 'client-closed' && reason !== 'slow-consumer';
}

async function consumeQueue(context: QueueSessionContext, source: QueueSource, topics: readonly string[], stream: QueueStream, stop: AbortSignal): Promise<void> {
  const { connection, window } = stream;
  try {
    for await (const delivery of source.consume(topics, stop, { holdAfterStopMs: stream.graceMs })) {
      const frame = toFrame(context, delivery, window !== undefined);
      if (frame === undefined) continue;
      if (!(await deliver(context, delivery, frame, stream))) break;
      await window?.room();
    }
  } catch (error) {
    context.metrics.inc('sse_source_errors_total');
    context.logger.warn({ err: error }, 'queue consumer failed');
    connection.end('source-error');
  } finally {
    await Promise.all([window?.releaseAll(stream.graceMs()), stream.settling?.finish(stream.delivered())]);
  }
}

function openWindow(context: QueueSessionContext, registry: AckRegistry, ack: QueueAckOptions, connection: Connection): AckWindow {
  return new AckWindow(registry, ack, {
    // Only acknowledged messages count as activity: a vanished client acknowledges nothing, so SESSION_IDLE_MS ends it.
    onAck: () => connection.acknowledged(),
    onTimeout: (delivery) => {
      context.metrics.inc('sse_queue_ack_timeouts_total');
      context.logger.info({ topic: delivery.topic, ackTimeoutMs: ack.timeoutMs }, 'stream ended: a message was not acknowledged in time; released');
      connection.end('ack-timeout');
    },
  });
}

function toFrame(context: QueueSessionContext, delivery: Delivery, byHandle: boolean): Buffer | undefined {
  try {
    return Buffer.from(encodeEvent({ id: byHandle ? delivery.handle : delivery.id, event: delivery.event, data: delivery.data }));
  } catch (error) {
    // Left unacknowledged: the queue redelivers it and, after maxReceiveCount, moves it to the dead-letter queue.
    context.metrics.inc('sse_invalid_messages_total');
    context.logger.warn({ topic: delivery.topic, messageId: delivery.id, err: error }, 'queue message cannot be a frame');
    return undefined;
  }
}

/** Writes one message's frame; returns false (after releasing it) when the connection is gone. */
async function deliver(context: QueueSessionContext, delivery: Delivery, frame: Buffer, stream: QueueStream): Promise<boolean> {
  const { connection, window, settling } = stream;
  window?.hold(delivery);
  if (!(await connection.writeConfirmed(frame))) {
    await (window === undefined ? delivery.release() : window.release(delivery.handle));
    return false;
  }
  context.metrics.inc('sse_events_delivered_total');
  if (settling !== undefined) settling.add(delivery);
  else if (window === undefined) await delivery.ack();
  return true;
}
