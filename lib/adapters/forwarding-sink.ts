import type { ByteSink } from '../engine/byte-sink.js';

/**
 * A ByteSink that passes every call to the sink it wraps: the base of the sinks that change one thing on the way (gzip,
 * flush padding, the response's byte budget), which override only what they change.
 */
export abstract class ForwardingSink implements ByteSink {
  constructor(protected readonly inner: ByteSink) {}

  write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
    return this.inner.write(chunk, done);
  }

  get writableLength(): number {
    return this.inner.writableLength;
  }

  get destroyed(): boolean | undefined {
    return this.inner.destroyed;
  }

  cork(): void {
    this.inner.cork();
  }

  uncork(): void {
    this.inner.uncork();
  }

  end(): void {
    this.inner.end();
  }

  destroy(): void {
    this.inner.destroy?.();
  }

  once(event: 'close' | 'response-budget', listener: () => void): this {
    // Both overloads of ByteSink, passed through one call.
    (this.inner.once as (event: string, listener: () => void) => unknown).call(this.inner, event, listener);
    return this;
  }
}
