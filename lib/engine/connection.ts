import type { ByteSink } from './byte-sink.js';
import { comparePositions } from '../sse/cursor.js';
import { FrameJoiner } from '../sse/frame-joiner.js';
import { encodePosition, encodeRetry } from '../sse/encoder.js';

/** Why a stream ended; logged and, for some, counted. */
export type EndReason = 'client-closed' | 'max-session' | 'idle' | 'slow-consumer' | 'shutdown' | 'token-expired' | 'deadline' | 'response-budget' | 'source-error' | 'ack-timeout';

/** The part of the hub a connection reports to: scheduling its flush and hearing that it ended. */
export interface ConnectionOwner {
  scheduleFlush(connection: Connection): void;
  connectionEnded(connection: Connection, reason: EndReason): void;
}

// Past this many queued bytes a connection writes at once instead of waiting for the end of the turn: coalescing is
// bounded by bytes as well as by one event-loop turn.
const COALESCE_MAX_BYTES = 64 * 1024;
// The empty queue shared by every idle connection (never pushed into): an idle stream allocates no arrays of its own.
const NONE: Uint8Array[] = [];

/**
 * One open SSE stream. Frames are queued by reference (a frame's bytes are shared by every connection that gets it) and
 * written once per event-loop turn as one joined buffer, so a busy connection costs one write and one system call per
 * turn, not one per frame.
 */
export class Connection {
  /** Sorted topics of the subscription, comma-joined: connections with the same key share encoded frames. */
  readonly topicKey: string;
  /** Epoch ms after which the stream ends with a jittered `retry:` (max session, token expiry, Lambda deadline). */
  endsAt: number;
  /** What reaching `endsAt` means, for logs and metrics. */
  endReason: EndReason = 'max-session';
  /** Epoch ms of the last event (not heartbeat) queued, to the hub tick's precision; drives SESSION_IDLE_MS. */
  lastEventAt: number;
  /** Set when an event is queued; the hub's tick turns it into `lastEventAt`, so the hot path never reads the clock. */
  sawEvent = false;
  /** While true (replay in progress), live frames wait in `held` instead of going out. */
  replaying = true;
  ended = false;
  /** Set when the client went away (as opposed to an end the server chose). */
  private clientGone = false;
  /** Hears the end of the stream once, with its reason. */
  onEnd: ((reason: EndReason) => void) | undefined;
  /** Per topic, the position up to which live frames are already with the client; undefined for nearly every stream. */
  private skipUntil: Map<string, string> | undefined;
  private pending = NONE;
  private pendingBytes = 0;
  private held = NONE;
  private heldBytes = 0;

  constructor(
    readonly topics: readonly string[],
    private readonly sink: ByteSink,
    private readonly owner: ConnectionOwner,
    private readonly limitBytes: number,
    now: number,
    endsAt: number,
    /** The stream's cursor over its topics now (broadcast only; queue ids are not cursors). */
    private readonly position?: () => string,
  ) {
    this.topicKey = topics.join(',');
    this.endsAt = endsAt;
    this.lastEventAt = now;
  }

  /**
   * The client resumed past this process's live position in `topic` (another instance delivered up to `position`
   * first): live frames up to it are duplicates and are dropped by alreadyHas().
   */
  skipLiveUntil(topic: string, position: string): void {
    (this.skipUntil ??= new Map()).set(topic, position);
  }

  /** True when the live message of `topic` at `position` is one the client already has (see skipLiveUntil). */
  alreadyHas(topic: string, position: string): boolean {
    const until = this.skipUntil?.get(topic);
    if (until === undefined) return false;
    if (comparePositions(position, until) <= 0) return true;
    this.skipUntil?.delete(topic);
    if (this.skipUntil?.size === 0) this.skipUntil = undefined;
    return false;
  }

  /** Queues a frame. Returns false (and ends the stream) when the client is too far behind. */
  send(frame: Uint8Array, isEvent = true, live = false): boolean {
    if (this.ended) return false;
    if (live && this.replaying) return this.hold(frame);
    const queued = this.sink.writableLength + this.pendingBytes;
    // One frame always fits an empty queue, so a message larger than the bound still reaches a client that keeps up.
    if (queued > 0 && queued + frame.byteLength > this.limitBytes) {
      this.end('slow-consumer', 0);
      return false;
    }
    if (this.pending === NONE) {
      this.pending = [];
      this.owner.scheduleFlush(this);
    }
    this.pending.push(frame);
    this.pendingBytes += frame.byteLength;
    if (isEvent) this.sawEvent = true;
    if (this.pendingBytes >= COALESCE_MAX_BYTES) this.flush();
    return true;
  }

  private hold(frame: Uint8Array): boolean {
    if (this.heldBytes > 0 && this.heldBytes + frame.byteLength > this.limitBytes) {
      this.end('slow-consumer', 0);
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
    this.replaying = false;
    const held = this.held;
    this.held = NONE;
    this.heldBytes = 0;
    for (const frame of held) if (!this.send(frame)) return;
    const position = this.positionFrame();
    if (position !== undefined) this.send(position, false);
  }

  /**
   * The id-only frame naming where the stream stands, when that is known: once live, every message of the topics up to
   * the fan-out's position has been queued to this connection. During replay the frames already carry their ids.
   */
  private positionFrame(): Uint8Array | undefined {
    if (this.position === undefined || this.replaying) return undefined;
    let cursor = this.position();
    // A client that resumed ahead of this process keeps its own position until the feed catches up: never move it back.
    const ahead = this.skipUntil;
    if (ahead !== undefined) {
      cursor = cursor.split(',').map((pair) => {
        const topic = pair.slice(0, pair.indexOf('='));
        const position = ahead.get(topic);
        return position === undefined ? pair : `${topic}=${position}`;
      }).join(',');
    }
    return Buffer.from(encodePosition(cursor));
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
   * Writes one frame after what is queued and resolves once the sink handed it to the OS while the connection was still
   * open: queue sources acknowledge a message only then. Rejects if the stream ended first, on a write error, and when
   * the callback arrives after the connection was destroyed (Node then reports success for a write it dropped).
   * `isActivity` false: the write does not reset the SESSION_IDLE_MS clock (QUEUE_ACK=client counts acks instead).
   */
  writeConfirmed(frame: Uint8Array, isActivity = true): Promise<void> {
    if (this.ended) return Promise.reject(new Error('stream ended'));
    this.flush();
    if (isActivity) this.lastEventAt = Date.now();
    return new Promise((resolve, reject) => {
      this.sink.write(frame, (error) => {
        if (error) reject(error);
        else if (this.sink.destroyed === true || this.clientGone) reject(new Error('the client left before the frame was written'));
        else resolve();
      });
    });
  }

  /**
   * Ends the stream: what is queued, the stream's position (id-only frame), then a final `retry:` of `retryMs` (the
   * caller jitters it), then the end of the response. The browser reconnects after that delay and resumes from there.
   */
  end(reason: EndReason, retryMs: number): void {
    if (this.ended) return;
    this.ended = true;
    this.clientGone = reason === 'client-closed';
    if (reason !== 'client-closed') {
      // A slow consumer's queue is dropped: it is cut where it stands and resumes from the last id it did receive.
      const slow = reason === 'slow-consumer';
      if (slow) this.pending = NONE;
      const position = slow ? undefined : this.positionFrame();
      this.sink.cork();
      for (const frame of this.pending) this.sink.write(frame);
      if (position !== undefined) this.sink.write(position);
      this.sink.write(Buffer.from(encodeRetry(retryMs)));
      this.sink.uncork();
      this.sink.end();
    }
    this.pending = NONE;
    this.held = NONE;
    this.owner.connectionEnded(this, reason);
  }
}
