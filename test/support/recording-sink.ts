import type { ByteSink } from '../../lib/byte-sink.js';

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

  /** The `id:` of every event written, in order. */
  get ids(): string[] {
    return [...this.text.matchAll(/^id: (.*)$/gm)].map((m) => m[1] as string);
  }
}
