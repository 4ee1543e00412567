import type { ByteSink } from './byte-sink.js';
import { FrameJoiner } from '../sse/frame-joiner.js';
import { formatCursor } from '../sse/cursor.js';
import { encodePosition, encodeRetry } from '../sse/encoder.js';
import { jitter } from './jitter.js';
import type { LiveBatch, LiveSet } from './live-batch.js';
import { ResumedAhead } from './resumed-ahead.js';
import type { ConnectionPlan, ConnectionSettings, EndReason } from './connection-plan.js';

/** The part of the hub a connection reports to: scheduling its flush, bytes it wrote on its own, and its end. */
export interface ConnectionOwner {
  scheduleFlush(connection: Connection): void;
  /** Bytes the connection (or its topic set) wrote outside the hub's flush pass, which counts only its own. */
  wroteOutsidePass(bytes: number): void;
  connectionEnded(connection: Connection, reason: EndReason): void;
}

// Past this many queued bytes a connection writes at once instead of waiting for the end of the turn: coalescing is
// bounded by bytes as well as by one event-loop turn.
const COALESCE_MAX_BYTES = 64 * 1024;
// The empty queue shared by every idle connection (never pushed into): an idle stream allocates no arrays of its own.
const NONE: Uint8Array[] = [];

/**
 * One open SSE stream, built with its plan and driven through verbs: `sendReplay`, `sendLive`, `heartbeat`, `goLive`,
 * `tick`, `end`. Live frames arrive once per turn as its topic set's shared buffer and are written as they are; its own
 * frames (replay, heartbeats, position) are queued by reference and written once per turn as one joined buffer. Either
 * way a busy connection costs one write and one system call per turn, not one per frame. A stream ends one way,
 * `end(reason)`, which the sink's own close also goes through.
 */
export class Connection {
  /** Sorted topics of the subscription, comma-joined: connections with the same key share encoded frames. */
  readonly topicKey: string;
  readonly topics: readonly string[];
  private readonly endsAt: number;
  private readonly endReason: EndReason;
  private onEnd: ((reason: EndReason) => void) | undefined;
  private readonly activityFromAcks: boolean;
  /** Epoch ms of the last event (not heartbeat) queued, to the hub tick's precision; drives SESSION_IDLE_MS. */
  private lastEventAt: number;
  /** Set when an event is queued; tick() turns it into `lastEventAt`, so the hot path never reads the clock. */
  private sawEvent = false;
  /** While true (replay in progress), live frames wait in `held` instead of going out. */
  private replaying = true;
  private ended = false;
  /** Set when the client went away (as opposed to an end the server chose). */
  private clientGone = false;
  /** Where a client that resumed ahead of this process's feed already is; undefined for nearly every stream. */
  private ahead: ResumedAhead | undefined;
  private pending = NONE;
  private pendingBytes = 0;
  private held = NONE;
  private heldBytes = 0;

  constructor(
    plan: ConnectionPlan,
    private readonly sink: ByteSink,
    private readonly owner: ConnectionOwner,
    private readonly settings: ConnectionSettings,
    now: number,
    /** Which of the hub's heartbeat slots this stream is in (HeartbeatSlots). */
    readonly heartbeatSlot: number,
    /** The topic set it shares live frames with (broadcast only; queue streams have no cursor). */
    private readonly live?: LiveSet,
  ) {
    this.topics = plan.topics;
    this.topicKey = plan.topics.join(',');
    this.endsAt = plan.endsAt;
    this.endReason = plan.endReason;
    this.onEnd = plan.onEnd;
    this.activityFromAcks = plan.activity === 'acks';
    this.lastEventAt = now;
    sink.once('close', () => this.end('client-closed'));
    sink.once('response-budget', () => this.end('response-budget'));
  }

  /**
   * The client resumed past this process's live position in `topic` (another instance delivered up to `position`
   * first): live frames up to it are duplicates and are not sent.
   */
  skipLiveUntil(topic: string, position: string): void {
    (this.ahead ??= new ResumedAhead()).skipUntil(topic, position);
  }

  /** Undoes skipLiveUntil for `topic`: the client was not ahead after all, its position is the feed's again. */
  stopSkipping(topic: string): void {
    this.ahead?.forget(topic);
  }

  /**
   * Takes this turn's live frames of its topic set: written at once as the set's shared buffer when nothing of its own
   * is queued (the common case), queued after what is, held back while the replay runs. Returns the bytes written now.
   */
  sendLive(batch: LiveBatch): number {
    if (this.ended) return 0;
    const buffer = this.ahead === undefined ? batch.buffer : this.unseen(this.ahead, batch);
    if (buffer === undefined) return 0;
    if (this.replaying) {
      this.hold(buffer);
      return 0;
    }
    if (this.pending !== NONE) {
      this.queue(buffer, true);
      return 0;
    }
    const queued = this.sink.writableLength;
    // One batch always fits an empty queue, so a burst larger than the bound still reaches a client that keeps up.
    if (queued > 0 && queued + buffer.byteLength > this.settings.limitBytes) {
      this.end('slow-consumer');
      return 0;
    }
    this.sink.write(buffer);
    this.sawEvent = true;
    return buffer.byteLength;
  }

  private unseen(ahead: ResumedAhead, batch: LiveBatch): Uint8Array | undefined {
    const buffer = ahead.unseen(batch);
    if (ahead.caughtUp) this.ahead = undefined;
    return buffer;
  }

  /** Bytes this stream holds that its client has not been sent yet: the socket's queue, this turn's, a replay's held frames. */
  get backlogBytes(): number {
    return this.sink.writableLength + this.pendingBytes + this.heldBytes;
  }

  /**
   * Cuts the stream to relieve memory pressure: ended as a slow consumer (a browser resumes from the last id it
   * received), and its connection dropped at once with its backlog, which end() alone would keep until its grace ran
   * out for a client that does not read. Returns the bytes let go.
   */
  shed(): number {
    const bytes = this.backlogBytes;
    this.end('slow-consumer');
    this.sink.destroy?.();
    return bytes;
  }

  /** Bytes of data a replay may read for this stream: what its queue can hold (CONNECTION_BUFFER_BYTES). */
  get replayBudgetBytes(): number {
    return this.settings.limitBytes;
  }

  /** Queues an event of the replay (or the reset event before it). False when the stream ended. */
  sendReplay(frame: Uint8Array): boolean {
    if (this.ended) return false;
    return this.queue(frame, true);
  }

  /** Queues a comment that keeps proxies from cutting a quiet stream; it is not activity for SESSION_IDLE_MS. */
  heartbeat(frame: Uint8Array): void {
    if (!this.ended) this.queue(frame, false);
  }

  /** The client acknowledged a message (QUEUE_ACK=client): activity for SESSION_IDLE_MS. */
  acknowledged(): void {
    this.sawEvent = true;
  }

  /** Queues a frame. Returns false (and ends the stream) when the client is too far behind. */
  private queue(frame: Uint8Array, isEvent: boolean): boolean {
    let queued = this.sink.writableLength + this.pendingBytes;
    // What waits here may still fit the socket: written before the client is judged, or a replay burst larger than a
    // small bound (below COALESCE_MAX_BYTES) would be dropped unwritten on every reconnect, and never get anywhere.
    if (queued > 0 && queued + frame.byteLength > this.settings.limitBytes && this.pendingBytes > 0) {
      this.owner.wroteOutsidePass(this.flush());
      queued = this.sink.writableLength;
    }
    // One frame always fits an empty queue, so a message larger than the bound still reaches a client that keeps up.
    if (queued > 0 && queued + frame.byteLength > this.settings.limitBytes) {
      this.end('slow-consumer');
      return false;
    }
    if (this.pending === NONE) {
      this.pending = [];
      this.owner.scheduleFlush(this);
    }
    this.pending.push(frame);
    this.pendingBytes += frame.byteLength;
    if (isEvent) this.sawEvent = true;
    if (this.pendingBytes >= COALESCE_MAX_BYTES) this.owner.wroteOutsidePass(this.flush());
    return true;
  }

  private hold(frame: Uint8Array): boolean {
    if (this.heldBytes > 0 && this.heldBytes + frame.byteLength > this.settings.limitBytes) {
      this.end('slow-consumer');
      return false;
    }
    if (this.held === NONE) this.held = [];
    this.held.push(frame);
    this.heldBytes += frame.byteLength;
    return true;
  }

  /**
   * Ends the replay phase: live frames that arrived meanwhile go out now, in order, then the stream's position as an
   * id-only frame, so even a stream that never carries an event resumes exactly after a reconnect.
   */
  goLive(): void {
    // Frames the set gathered during the replay in this turn are held too, so the position below covers only what went.
    this.owner.wroteOutsidePass(this.live?.flush() ?? 0);
    if (this.ended) return;
    this.replaying = false;
    const held = this.held;
    this.held = NONE;
    this.heldBytes = 0;
    for (const frame of held) if (!this.queue(frame, true)) return;
    const position = this.positionFrame();
    if (position !== undefined && !this.ended) this.queue(position, false);
  }

  /**
   * The id-only frame naming where the stream stands, when that is known: once live, every message of the topics up to
   * the fan-out's position has been queued to this connection. During replay the frames already carry their ids.
   */
  private positionFrame(): Uint8Array | undefined {
    if (this.live === undefined || this.replaying) return undefined;
    const cursor = this.live.cursor();
    // A client that resumed ahead of this process keeps its own position until the feed catches up: never move it back.
    return Buffer.from(encodePosition(this.ahead === undefined ? cursor : this.ahead.adjust(cursor)));
  }

  /**
   * The last frame of a stream the drain ends when positions do not outlive this process (memory): every topic at
   * `position`, so the client resumes at the first message of the process that takes over. Its own cursor would name
   * a number the next process issues again, and it would silently skip the messages up to there.
   */
  private restartFrame(position: string): Uint8Array {
    return Buffer.from(encodePosition(formatCursor(new Map(this.topics.map((topic) => [topic, position])))));
  }

  /**
   * Writes what is queued as one buffer; called by the hub once per event-loop turn with the turn's joiner (which shares
   * joined buffers between connections). Returns the bytes written.
   */
  flush(joiner: FrameJoiner = new FrameJoiner()): number {
    if (this.pending.length === 0 || this.ended) return 0;
    const bytes = this.pendingBytes;
    this.sink.write(joiner.join(this.pending, bytes));
    this.pending = NONE;
    this.pendingBytes = 0;
    return bytes;
  }

  /**
   * Writes one frame after what is queued and resolves true once the sink handed it to the OS while the connection was
   * still open: queue sources acknowledge a message only then. Resolves false if the stream ended first, on a write
   * error, and when the callback arrives after the connection was destroyed (Node then reports success for a write it
   * dropped). Under QUEUE_ACK=client the write is not activity for SESSION_IDLE_MS (acknowledgements are).
   */
  writeConfirmed(frame: Uint8Array): Promise<boolean> {
    if (this.ended) return Promise.resolve(false);
    this.owner.wroteOutsidePass(this.flush() + frame.byteLength);
    if (!this.activityFromAcks) this.lastEventAt = Date.now();
    return new Promise((resolve) => {
      this.sink.write(frame, (error) => resolve(!error && this.sink.destroyed !== true && !this.clientGone));
    });
  }

  /**
   * The hub's once-a-second look at this stream: ends it when its time is up or it has been idle for `idleMs` (0: no
   * idle budget), and otherwise sends `heartbeat` when one is due.
   */
  tick(now: number, idleMs: number, heartbeat: Uint8Array | undefined): void {
    if (this.sawEvent) {
      this.sawEvent = false;
      this.lastEventAt = now;
    }
    if (now >= this.endsAt) this.end(this.endReason);
    else if (idleMs > 0 && now - this.lastEventAt >= idleMs) this.end('idle');
    else if (heartbeat !== undefined) this.heartbeat(heartbeat);
  }

  /**
   * Ends the stream, the one way a stream ends: what is queued, the stream's position (id-only frame), then a final
   * `retry:` jittered around RETRY_MS, then the end of the response. The browser reconnects after that delay and
   * resumes from there. A slow consumer's queue is dropped and it is told `retry: 0`: it is cut where it stands and
   * resumes at once from the last id it did receive. A replay that used its byte budget (`replay-budget`) keeps what it
   * queued and is told `retry: 0` too: the client comes back at once for the rest. A client that left is written nothing.
   */
  end(reason: EndReason): void {
    if (this.ended) return;
    // The set's frames of this turn first, so the position below names only what this stream was given.
    if (reason !== 'client-closed' && reason !== 'slow-consumer') this.owner.wroteOutsidePass(this.live?.flush() ?? 0);
    if (this.ended) return;
    this.ended = true;
    this.clientGone = reason === 'client-closed';
    if (reason !== 'client-closed') {
      const slow = reason === 'slow-consumer';
      const resumeNow = slow || reason === 'replay-budget';
      if (slow) {
        this.pending = NONE;
        this.pendingBytes = 0;
      }
      const position = slow ? undefined : reason === 'shutdown' && this.settings.restartPosition !== undefined
        ? this.restartFrame(this.settings.restartPosition) : this.positionFrame();
      const retry = Buffer.from(encodeRetry(resumeNow ? 0 : jitter(this.settings.retryMs)));
      this.sink.cork();
      for (const frame of this.pending) this.sink.write(frame);
      if (position !== undefined) this.sink.write(position);
      this.sink.write(retry);
      this.sink.uncork();
      this.sink.end();
      this.owner.wroteOutsidePass(this.pendingBytes + (position?.byteLength ?? 0) + retry.byteLength);
    }
    this.pending = NONE;
    this.pendingBytes = 0;
    this.held = NONE;
    this.owner.connectionEnded(this, reason);
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    onEnd?.(reason);
  }
}
