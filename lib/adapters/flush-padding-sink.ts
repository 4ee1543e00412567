import type { ByteSink } from '../engine/byte-sink.js';
import { ForwardingSink } from './forwarding-sink.js';

/**
 * A ByteSink that follows every batch of writes with one SSE comment line of exactly `bytes` bytes (`:` + spaces +
 * LF), which EventSource ignores. A function URL may hold a small response chunk back until more bytes follow; the
 * padding pushes each batch through at once.
 *
 * Trade-off: every batch (an event, a heartbeat, the final `retry:`) costs `bytes` more on the wire and in Lambda's
 * streamed-bytes bandwidth, so keep it off (FLUSH_PADDING_BYTES=0, the default) unless clients see events late. A batch
 * is one corked run of writes (the hub writes one per event-loop turn), or one write outside cork.
 */
export class FlushPaddingSink extends ForwardingSink {
  private readonly padding: Uint8Array;
  private corked = 0;
  private wroteWhileCorked = false;

  /** @param bytes length of the padding line, bytes; at least 2 (`:` and the LF). */
  constructor(inner: ByteSink, bytes: number) {
    super(inner);
    if (!Number.isSafeInteger(bytes) || bytes < 2) throw new RangeError(`flush padding must be at least 2 bytes, got ${bytes}`);
    this.padding = new TextEncoder().encode(`:${' '.repeat(bytes - 2)}\n`);
  }

  override write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
    const ok = this.inner.write(chunk, done);
    if (this.corked > 0) {
      this.wroteWhileCorked = true;
      return ok;
    }
    return this.inner.write(this.padding) && ok;
  }

  override cork(): void {
    this.corked += 1;
    this.inner.cork();
  }

  override uncork(): void {
    if (this.corked === 0) return;
    this.corked -= 1;
    if (this.corked === 0 && this.wroteWhileCorked) {
      this.wroteWhileCorked = false;
      this.inner.write(this.padding);
    }
    this.inner.uncork();
  }
}
