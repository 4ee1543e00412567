import type { Connection } from './connection.js';
import type { Hub } from './hub.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { AckWindow, AUTO_ACK, type AckRegistry, type QueueAckOptions } from './queue-ack.js';
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
 * Runs a queue stream: takes messages from the source and writes each as a frame. With QUEUE_ACK=auto a message is
 * acknowledged once its frame was accepted by the socket while the connection was open; with QUEUE_ACK=client its
 * frame's id is its handle and it stays held until the browser acknowledges it (POST /ack), at most `prefetch` at a
 * time. Whatever is not acknowledged when the stream ends is released for another subscriber.
 */
export async function consumeQueue(context: QueueSessionContext, source: QueueSource, topics: readonly string[], connection: Connection): Promise<void> {
  // The consumer stops when the stream ends, whatever ended it.
  const stop = new AbortController();
  const ack = context.queueAck ?? AUTO_ACK;
  const window = ack.mode === 'client' && context.ackRegistry !== undefined ? openWindow(context, context.ackRegistry, ack, connection) : undefined;
  const onEnd = connection.onEnd;
  connection.onEnd = (reason) => {
    stop.abort();
    window?.close();
    onEnd?.(reason);
  };
  connection.goLive();
  try {
    for await (const delivery of source.consume(topics, stop.signal)) {
      const frame = toFrame(context, delivery, window !== undefined);
      if (frame === undefined) continue;
      if (!(await deliver(context, delivery, frame, connection, window))) break;
      await window?.room();
    }
  } catch (error) {
    context.metrics.inc('sse_source_errors_total');
    context.logger.warn({ err: error }, 'queue consumer failed');
    context.hub.end(connection, 'source-error');
  } finally {
    await window?.releaseAll();
  }
}

function openWindow(context: QueueSessionContext, registry: AckRegistry, ack: QueueAckOptions, connection: Connection): AckWindow {
  return new AckWindow(registry, ack, {
    // Only acknowledged messages count as activity: a vanished client acknowledges nothing, so SESSION_IDLE_MS ends it.
    onAck: () => (connection.sawEvent = true),
    onTimeout: (delivery) => {
      context.metrics.inc('sse_queue_ack_timeouts_total');
      context.logger.info({ topic: delivery.topic, ackTimeoutMs: ack.timeoutMs }, 'stream ended: a message was not acknowledged in time; released');
      context.hub.end(connection, 'ack-timeout');
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
async function deliver(context: QueueSessionContext, delivery: Delivery, frame: Buffer, connection: Connection, window: AckWindow | undefined): Promise<boolean> {
  window?.hold(delivery);
  try {
    await connection.writeConfirmed(frame, window === undefined);
  } catch {
    await (window === undefined ? delivery.release() : window.release(delivery.handle));
    return false;
  }
  context.metrics.inc('sse_events_delivered_total');
  if (window === undefined) await delivery.ack();
  return true;
}
