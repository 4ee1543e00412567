import type { ByteSink } from '../../lib/engine/byte-sink.js';

/** A ByteSink that records what is written (unit tests of the core). `backlog` simulates bytes stuck in the socket. */
export class RecordingSink implements ByteSink {
  readonly chunks: Uint8Array[] = [];
  backlog = 0;
  ended = false;
  writes = 0;
  private corked = 0;

  get writableLength(): number {
    return this.backlog;
  }

  write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
    this.chunks.push(chunk);
    if (this.corked === 0) this.writes += 1;
    done?.(null);
    return true;
  }

  cork(): void {
    if (this.corked++ === 0) this.writes += 1;
  }

  uncork(): void {
    this.corked -= 1;
  }

  end(): void {
    this.ended = true;
  }

  /** Set by destroy(): the connection was dropped with what it had queued. */
  destroyed = false;

  destroy(): void {
    this.destroyed = true;
  }

  private closeListeners: (() => void)[] = [];

  once(_event: 'close', listener: () => void): this {
    this.closeListeners.push(listener);
    return this;
  }

  /** The client goes away: what a socket's `close` means to the stream. */
  close(): void {
    const listeners = this.closeListeners;
    this.closeListeners = [];
    for (const listener of listeners) listener();
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  /** The `id:` of every event written (frames with data), in order. */
  get ids(): string[] {
    return this.frames.filter((f) => /^data:/m.test(f)).flatMap((f) => [.../^id: (.*)$/gm.exec(f)?.slice(1) ?? []]);
  }

  /** The id of every id-only frame (the stream's position without an event), in order. */
  get positions(): string[] {
    return this.frames.filter((f) => !/^data:/m.test(f)).flatMap((f) => [.../^id: (.*)$/gm.exec(f)?.slice(1) ?? []]);
  }

  private get frames(): string[] {
    return this.text.split('\n\n');
  }
}
