/**
 * The pace of a shutdown drain. A drain that closes every stream within a fixed window sends connections ÷ window
 * reconnects a second to the instances that take the clients over; at 10,000 clients over 5 s that is 2,000 a second,
 * enough to overflow their accept queues (issue #19). Pacing by rate bounds that arrival rate, whatever the pod size.
 */
export interface DrainPace {
  /** The shortest drain, ms (SHUTDOWN_DRAIN_MS). */
  minimumMs: number;
  /** Most streams closed per second (DRAIN_RATE_PER_S). */
  ratePerSecond: number;
}

/** How long draining `connections` streams takes: the larger of the minimum window and connections ÷ rate, in ms. */
export function drainWindowMs(connections: number, pace: DrainPace): number {
  return Math.max(pace.minimumMs, Math.ceil((connections * 1_000) / pace.ratePerSecond));
}

/**
 * How many of `total` streams should be closed `elapsedMs` into a drain of `windowMs`: an even schedule, so a late
 * timer catches up instead of shifting every later close.
 */
export function closesDue(total: number, elapsedMs: number, windowMs: number): number {
  if (windowMs <= 0 || elapsedMs >= windowMs) return total;
  return Math.min(total, Math.floor((total * Math.max(0, elapsedMs)) / windowMs));
}
