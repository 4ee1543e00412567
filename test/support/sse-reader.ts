import { createParser, type EventSourceMessage } from 'eventsource-parser';

/**
 * Reads an SSE response with fetch and an independent parser, for tests that need exact control over the connection
 * (when to drop it, which Last-Event-ID to send).
 */
export class SseReader {
  readonly events: EventSourceMessage[] = [];
  readonly retries: number[] = [];
  readonly comments: string[] = [];
  status = 0;
  /** What ended the stream, when it was not a clean end or close(). */
  error: unknown;
  headers = new Headers();
  ended: Promise<void>;
  private readonly controller = new AbortController();
  private waiters: (() => void)[] = [];

  constructor(url: string, headers: Record<string, string> = {}) {
    const parser = createParser({
      onEvent: (e) => this.push(() => this.events.push(e)),
      onRetry: (r) => this.push(() => this.retries.push(r)),
      onComment: (c) => this.push(() => this.comments.push(c)),
    });
    this.ended = (async () => {
      try {
        const response = await fetch(url, { headers, signal: this.controller.signal });
        this.status = response.status;
        this.headers = response.headers;
        const decoder = new TextDecoder();
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch (error) {
        // A server that goes away mid-stream is something tests look at, not a crash of the test.
        if (!this.controller.signal.aborted) this.error = error;
      } finally {
        this.push(() => undefined);
      }
    })();
  }

  private push(record: () => void): void {
    record();
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once `predicate` holds; rejects after `timeoutMs`. */
  async until(predicate: (reader: this) => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms; got ${this.events.length} events`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  get ids(): string[] {
    return this.events.map((e) => e.id ?? '');
  }

  close(): void {
    this.controller.abort();
  }
}
