/** A wait of at most some milliseconds that can be ended sooner (see boundedWait). */
export interface BoundedWait {
  /** Resolves when the time is up or end() was called, whichever comes first. */
  readonly over: Promise<void>;
  /** Ends the wait now (nothing left to wait for, or no more waiting allowed). Once; later calls do nothing. */
  end(): void;
}

/**
 * A wait of at most `ms` that end() cuts short: what a queue stream the server ended holds waits this way for its
 * browser's last acknowledgements (QUEUE_ACK_GRACE_MS), ending early once nothing is left or the source closes.
 * `onOver` runs synchronously when the wait is over, for a caller whose next step must happen in the same turn as end().
 */
export function boundedWait(ms: number, onOver?: () => void): BoundedWait {
  let end: () => void = () => undefined;
  const over = new Promise<void>((resolve) => {
    const timer = setTimeout(() => end(), ms);
    end = () => {
      end = () => undefined;
      clearTimeout(timer);
      onOver?.();
      resolve();
    };
  });
  return { over, end: () => end() };
}
