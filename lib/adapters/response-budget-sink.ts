import type { ByteSink } from '../engine/byte-sink.js';
import { ForwardingSink } from './forwarding-sink.js';

/**
 * A ByteSink that counts the bytes of one response and, once they reach `budgetBytes`, emits `response-budget`: the
 * session then ends the stream the way it ends one at the Lambda deadline (its position, a jittered `retry:`), and the
 * browser resumes in a new invocation. A function URL cuts a streamed response at 200 MB; what follows the signal (the
 * rest of one turn's frames and the closing frames) must fit in the headroom below that limit.
 *
 * The signal is emitted on the next turn, never inside write(): the writer (a connection's flush) is mid-way through
 * handing over its queue, and ending the stream from inside it would write that queue twice.
 */
export class ResponseBudgetSink extends ForwardingSink {
  private written = 0;
  private spent = false;
  private emitted = false;
  private listeners: (() => void)[] = [];

  /** @param budgetBytes bytes after which the stream is asked to end (LAMBDA_MAX_RESPONSE_BYTES). */
  constructor(inner: ByteSink, private readonly budgetBytes: number) {
    super(inner);
  }

  /** Bytes written so far, padding included. */
  get bytesWritten(): number {
    return this.written;
  }

  override write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
    this.written += chunk.byteLength;
    if (!this.spent && this.written >= this.budgetBytes) {
      this.spent = true;
      setImmediate(() => this.emitSpent());
    }
    return super.write(chunk, done);
  }

  private emitSpent(): void {
    this.emitted = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }

  override end(): void {
    this.listeners = [];
    super.end();
  }

  override once(event: 'close' | 'response-budget', listener: () => void): this {
    // A listener that arrives after the signal still hears it (on the next turn, like the others).
    if (event === 'response-budget' && this.emitted) setImmediate(listener);
    else if (event === 'response-budget') this.listeners.push(listener);
    else super.once(event, listener);
    return this;
  }
}
