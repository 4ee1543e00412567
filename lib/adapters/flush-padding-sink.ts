import type { ByteSink } from '../engine/byte-sink.js';

/**
 * A ByteSink that follows every batch of writes with one SSE comment line of exactly `bytes` bytes (`:` + spaces +
 * LF), which EventSource ignores. A function URL may hold a small response chunk back until more bytes follow; the
 * padding pushes each batch through at once.
 *
 * Trade-off: every batch (an event, a heartbeat, the final `retry:`) costs `bytes` more on the wire and in Lambda's
 * streamed-bytes bandwidth, so keep it off (FLUSH_PADDING_BYTES=0, the default) unless clients see events late. A batch
 * is one corked run of writes (the hub writes one per event-loop turn), or one write outside cork.
 */
export class FlushPaddingSink implements ByteSink {
  private readonly padding: Uint8Array;
  private corked = 0;
  private wroteWhileCorked = false;

  /** @param bytes length of the padding line, bytes; at least 2 (`:` and the LF). */
  constructor(private readonly inner: ByteSink, bytes: number) {
    if (!Number.isSafeInteger(bytes) || bytes < 2) throw new RangeError(`flush padding must be at least 2 bytes, got ${bytes}`);
    this.padding = new TextEncoder().encode(`:${' '.repeat(bytes - 2)}\n`);
  }

  write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
    const ok = this.inner.write(chunk, done);
    if (this.corked > 0) {
      this.wroteWhileCorked = true;
      return ok;
    }
    return this.inner.write(this.padding) && ok;
  }

  get writableLength(): number {
    return this.inner.writableLength;
  }

  cork(): void {
    this.corked += 1;
    this.inner.cork();
  }

  uncork(): void {
    if (this.corked === 0) return;
    this.corked -= 1;
    if (this.corked === 0 && this.wroteWhileCorked) {
      this.wroteWhileCorked = false;
      this.inner.write(this.padding);
    }
    this.inner.uncork();
  }

  end(): void {
    this.inner.end();
  }

  once(event: 'close' | 'response-budget', listener: () => void): this {
    // Both overloads of ByteSink, passed through one call.
    (this.inner.once as (event: string, listener: () => void) => unknown).call(this.inner, event, listener);
    return this;
  }
}
