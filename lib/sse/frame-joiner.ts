/**
 * Joins the frames a connection has queued in one event-loop turn into one buffer, so the connection costs one write
 * (one HTTP chunk, one system call) per turn however many frames it got. Connections of the same topics receive the
 * very same frames in the same turn, so the last join is reused when the next connection's frames are identical
 * (compared by reference): a burst costs one copy per distinct topic set, not one per connection.
 *
 * One joiner lives for one flush pass; it keeps only the last join.
 */
export class FrameJoiner {
  private lastFrames: readonly Uint8Array[] = [];
  private lastJoined: Uint8Array | undefined;

  /** One buffer with the bytes of `frames`, in order (the frame itself when there is only one). */
  join(frames: readonly Uint8Array[], bytes: number): Uint8Array {
    if (frames.length === 1) return frames[0] as Uint8Array;
    if (this.lastJoined !== undefined && sameFrames(frames, this.lastFrames)) return this.lastJoined;
    const joined = Buffer.concat(frames, bytes);
    this.lastFrames = frames;
    this.lastJoined = joined;
    return joined;
  }
}

function sameFrames(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
