import { QUEUE_DEFAULTS as D } from './defaults.js';
import type { EnvReader } from './env-reader.js';

/** How queue sources (`redis-list`, `sqs`) decide that a message was delivered. Defaults: QUEUE_DEFAULTS. */
export interface QueueConfig {
  /**
   * `auto`: a message is acknowledged once its frame was accepted by the open socket (and, with `settleMs`, once the
   * connection stayed open that much longer); what a client that closes or vanishes had not read yet is lost
   * (docs/queues.md states the window). `client`: each frame's `id` is the message's handle and the message stays
   * held until the browser sends `POST /ack`; required on Lambda.
   */
  ack: 'auto' | 'client';
  /** `client` only: a message not acknowledged within this long is released and its stream ends, ms. */
  ackTimeoutMs: number;
  /** `client` only: most unacknowledged messages in flight per stream. */
  prefetch: number;
  /** `auto` only: how long the connection must stay open after a frame was written before its message is removed, ms. */
  settleMs: number;
  /** `client` only: where browsers are told to send `POST /ack` (the `sse-ack-url` header); undefined: next to /events. */
  ackUrl: string | undefined;
}

export function readQueueConfig(env: EnvReader): QueueConfig {
  return {
    ack: env.oneOf('QUEUE_ACK', ['auto', 'client'] as const, D.QUEUE_ACK.value),
    ackTimeoutMs: env.integer('QUEUE_ACK_TIMEOUT_MS', D.QUEUE_ACK_TIMEOUT_MS.value, 1_000, 43_200_000),
    prefetch: env.integer('QUEUE_PREFETCH', D.QUEUE_PREFETCH.value, 1, 1_000),
    settleMs: env.integer('QUEUE_SETTLE_MS', D.QUEUE_SETTLE_MS.value, 0, 60_000),
    ackUrl: env.url('QUEUE_ACK_URL', ['https:', 'http:']),
  };
}
