/** Why a stream ended; logged and, for some, counted. */
export type EndReason = 'client-closed' | 'max-session' | 'idle' | 'slow-consumer' | 'shutdown' | 'token-expired' | 'deadline' | 'response-budget' | 'source-error' | 'ack-timeout' | 'replay-budget';

/** What a stream is for and how it ends, fixed when it opens. */
export interface ConnectionPlan {
  /** Sorted topics of the subscription. */
  readonly topics: readonly string[];
  /** Epoch ms after which the stream ends with a jittered `retry:` (max session, token expiry, Lambda deadline)... */
  readonly endsAt: number;
  /** ...and what reaching it means, for logs and metrics. */
  readonly endReason: EndReason;
  /** Runs once when the stream has ended, whatever ended it. */
  readonly onEnd: (reason: EndReason) => void;
  /**
   * What resets the SESSION_IDLE_MS clock: every event written (default), or only the client's acknowledgements
   * (QUEUE_ACK=client: a vanished client acknowledges nothing, so the idle budget ends it).
   */
  readonly activity?: 'events' | 'acks';
}

/** Settings every connection of a hub shares (one object per hub, not per stream). */
export interface ConnectionSettings {
  /** CONNECTION_BUFFER_BYTES: queued bytes past which a client is cut as a slow consumer. */
  readonly limitBytes: number;
  /** RETRY_MS: the base of the jittered `retry:` a stream ends with. */
  readonly retryMs: number;
  /** The source's positionAfterRestart: the position of every topic in the last frame of a drained stream, if set. */
  readonly restartPosition?: string | undefined;
}
