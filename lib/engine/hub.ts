import type { ByteSink } from './byte-sink.js';
import { Connection, type ConnectionOwner } from './connection.js';
import type { ConnectionPlan, ConnectionSettings, EndReason } from './connection-plan.js';
import { FrameJoiner } from '../sse/frame-joiner.js';
import { closesDue, drainWindowMs, type DrainPace } from './drain-pace.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { encodeComment } from '../sse/encoder.js';
import { HeartbeatSlots } from './heartbeat-slots.js';
import type { TopicFanout } from './topic-fanout.js';

/** Hub settings (see ServerConfig for the variables behind them). */
export interface HubOptions {
  heartbeatMs: number;
  retryMs: number;
  connectionBufferBytes: number;
  sessionIdleMs: number;
}

const HEARTBEAT = Buffer.from(encodeComment('heartbeat'));
// Deadlines (max session, idle, token expiry, Lambda deadline) are checked on this cadence by the one process timer.
const TICK_MS = 1_000;
// A flush pass longer than this means the process is saturated; the next pass is then deferred by at most MAX_DEFER_MS.
const BUSY_PASS_MS = 10;
const MAX_DEFER_MS = 50;
// Under memory pressure only streams with at least this much waiting are cut: one turn's coalescing bound, which a client
// that keeps up does not reach.
const MIN_SHED_BACKLOG_BYTES = 64 * 1024;
// A drain closes its due streams on this cadence: at 500 streams/s, 10 per step.
const DRAIN_TICK_MS = 20;

/**
 * The process's set of open streams. For broadcast sources it holds one live subscription per topic, whatever the
 * number of browsers, and fans each message out; it owns the single timer that sends heartbeats (each tick to one slot
 * of the streams, see HeartbeatSlots) and ends streams whose time is up, and it writes each connection's queued frames
 * once per event-loop turn.
 */
export class Hub implements ConnectionOwner {
  readonly connections = new Set<Connection>();
  private readonly settings: ConnectionSettings;
  private dirty: Connection[] = [];
  private flushScheduled = false;
  /** How long the last flush pass took, ms. */
  private lastPassMs = 0;
  private lastPassEnd = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly heartbeats: HeartbeatSlots;

  /** `fanout`: the live fan-out of a broadcast source (see TopicFanout), whose subscriptions the hub's streams join. */
  constructor(
    private readonly options: HubOptions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly fanout: TopicFanout | undefined,
  ) {
    this.settings = { limitBytes: options.connectionBufferBytes, retryMs: options.retryMs, restartPosition: fanout?.positionAfterRestart };
    fanout?.flushWith(() => this.requestPass());
    const tickMs = Math.min(TICK_MS, options.heartbeatMs);
    this.heartbeats = new HeartbeatSlots(options.heartbeatMs, tickMs, Date.now());
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref?.();
  }

  /**
   * Registers a new stream, which ends at its plan's end time at the latest. For broadcast it joins the topics' fan-out,
   * holding live frames until `goLive()`.
   */
  open(plan: ConnectionPlan, sink: ByteSink): Connection {
    const set = this.fanout?.setOf(plan.topics);
    const connection = new Connection(plan, sink, this, this.settings, Date.now(), this.heartbeats.deal(), set);
    this.connections.add(connection);
    this.metrics.inc('sse_connections_total');
    this.metrics.set('sse_connections_open', this.connections.size);
    set?.add(connection);
    // A client that left while its stream was being opened (authorized, its topics prepared) closed the sink before
    // the connection listened for it: that close was not heard, so it is read here, or the stream would write nowhere,
    // and hold its connection slot, until its session ran out.
    if (sink.destroyed === true) connection.end('client-closed');
    return connection;
  }

  scheduleFlush(connection: Connection): void {
    this.dirty.push(connection);
    this.requestPass();
  }

  /** Schedules the flush pass: at the end of this turn, or about one pass later when the process is saturated. */
  private requestPass(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Saturated — passes are long and the next frame came sooner than a pass lasts — wait about one pass before the
    // next: each connection then gets more frames per write, and writes (the kernel's send path above all) are what
    // saturates the process. Under light load frames go out in the same turn.
    const sinceLastPass = performance.now() - this.lastPassEnd;
    if (this.lastPassMs < BUSY_PASS_MS || sinceLastPass >= this.lastPassMs) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), Math.min(this.lastPassMs - sinceLastPass, MAX_DEFER_MS));
  }

  /**
   * The flush pass: each topic set's frames of the turn go to its connections first (most are written there and then),
   * then whatever connections queued of their own (replay, heartbeats, live frames queued behind those).
   */
  private flush(): void {
    const started = performance.now();
    let bytes = this.fanout?.flushBatches() ?? 0;
    // Still marked scheduled while the sets flush: a connection they queue to joins this pass, not another one.
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    const joiner = new FrameJoiner();
    for (const connection of dirty) bytes += connection.flush(joiner);
    this.metrics.inc('sse_bytes_written_total', bytes);
    this.lastPassEnd = performance.now();
    this.lastPassMs = this.lastPassEnd - started;
  }

  wroteOutsidePass(bytes: number): void {
    this.metrics.addBytesWritten(bytes);
  }

  connectionEnded(connection: Connection, reason: EndReason): void {
    this.connections.delete(connection);
    this.fanout?.leave(connection);
    this.metrics.set('sse_connections_open', this.connections.size);
    if (reason === 'slow-consumer') this.metrics.inc('sse_slow_consumer_disconnects_total');
    this.logger.debug({ reason, topics: connection.topicKey }, 'stream ended');
  }

  /**
   * Memory pressure (OVERLOAD_MEMORY_BYTES): cuts the streams with the largest backlogs, largest first, until about
   * `bytes` have been let go. A stream with less than MIN_SHED_BACKLOG_BYTES waiting keeps up with what it is sent and is
   * never cut. Returns how many streams were cut and the bytes their backlogs held.
   */
  shedLargestBacklogs(bytes: number): { streams: number; bytes: number } {
    const candidates: { connection: Connection; backlog: number }[] = [];
    for (const connection of this.connections) {
      const backlog = connection.backlogBytes;
      if (backlog >= MIN_SHED_BACKLOG_BYTES) candidates.push({ connection, backlog });
    }
    candidates.sort((a, b) => b.backlog - a.backlog);
    let freed = 0;
    let streams = 0;
    for (const { connection } of candidates) {
      if (freed >= bytes) break;
      freed += connection.shed();
      streams += 1;
    }
    return { streams, bytes: freed };
  }

  private tick(): void {
    const now = Date.now();
    const rounds = this.heartbeats.advance(now);
    if (rounds > 0) this.metrics.inc('sse_heartbeats_total', rounds);
    const idleMs = this.options.sessionIdleMs;
    for (const connection of this.connections) {
      connection.tick(now, idleMs, this.heartbeats.isDue(connection.heartbeatSlot) ? HEARTBEAT : undefined);
    }
  }

  /**
   * Closes every stream on an even schedule over the drain window (the larger of `pace.minimumMs` and connections ÷
   * `pace.ratePerSecond`), in random order, each with a jittered `retry:`: the instances that take the clients over see
   * their reconnects arrive at no more than the drain rate, spread by the jitter. Resolves when all are closed.
   */
  async drain(pace: DrainPace): Promise<void> {
    const all = shuffle([...this.connections]);
    const windowMs = drainWindowMs(all.length, pace);
    this.logger.info({ connections: all.length, windowMs, ratePerSecond: pace.ratePerSecond }, 'draining streams');
    const started = Date.now();
    let closed = 0;
    for (;;) {
      const due = closesDue(all.length, Date.now() - started, windowMs);
      for (; closed < due; closed++) (all[closed] as Connection).end('shutdown');
      if (closed >= all.length) return;
      await new Promise((resolve) => setTimeout(resolve, DRAIN_TICK_MS));
    }
  }

  /** Stops the timer and the live feed. Open streams are not touched: drain() first. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.fanout?.close();
  }
}

/** Fisher–Yates, in place: streams opened together (one topic, one client) are not all closed together. */
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
