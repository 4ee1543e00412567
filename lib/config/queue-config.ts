import { QUEUE_DEFAULTS as D } from './defaults.js';
import type { EnvReader } from './env-reader.js';
import type { Runtime } from './setting.js';

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
  /**
   * `client` only: how long what a stream held stays held after the server ended the stream, for the browser's
   * acknowledgements on their way, ms. 0 on Lambda, whose sandbox freezes once the invocation ends.
   */
  graceMs: number;
  /** `auto` only: how long the connection must stay open after a frame was written before its message is removed, ms. */
  settleMs: number;
  /** `client` only: where browsers are told to send `POST /ack` (the `sse-ack-url` header); undefined: next to /events. */
  ackUrl: string | undefined;
}

export function readQueueConfig(env: EnvReader, runtime: Runtime = 'container'): QueueConfig {
  const graceMs = env.integer('QUEUE_ACK_GRACE_MS', D.QUEUE_ACK_GRACE_MS.value, 0, 60_000);
  return {
    ack: env.oneOf('QUEUE_ACK', ['auto', 'client'] as const, D.QUEUE_ACK.value),
    ackTimeoutMs: env.integer('QUEUE_ACK_TIMEOUT_MS', D.QUEUE_ACK_TIMEOUT_MS.value, 1_000, 43_200_000),
    prefetch: env.integer('QUEUE_PREFETCH', D.QUEUE_PREFETCH.value, 1, 1_000),
    // A held message would wait out the grace in a frozen sandbox, and come back only when the sandbox next runs.
    graceMs: runtime === 'lambda' ? 0 : graceMs,
    settleMs: env.integer('QUEUE_SETTLE_MS', D.QUEUE_SETTLE_MS.value, 0, 60_000),
    ackUrl: env.url('QUEUE_ACK_URL', ['https:', 'http:']),
  };
}
