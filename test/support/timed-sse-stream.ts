import { request, type IncomingMessage } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { waitFor } from './wait-for.js';

/** One parsed event with the moment (performance.now(), ms) its last byte arrived. */
export interface TimedEvent extends EventSourceMessage {
  at: number;
}

/**
 * An SSE stream read over node:http with an independent parser, stamping each event and comment with its arrival time,
 * for latency and timeout tests. `closed` resolves with `'end'` (the server ended it cleanly) or `'cut'`.
 */
export class TimedSseStream {
  readonly events: TimedEvent[] = [];
  readonly comments: { text: string; at: number }[] = [];
  readonly retries: number[] = [];
  response: IncomingMessage | undefined;
  readonly opened: Promise<IncomingMessage>;
  readonly closed: Promise<'end' | 'cut'>;
  private readonly req;

  /** Opens `GET url` with `headers`; fails `opened` if no response headers arrive within `headersTimeoutMs` (default 5000). */
  constructor(url: string, headers: Record<string, string> = {}, headersTimeoutMs = 5_000) {
    const parser = createParser({
      onEvent: (event) => this.events.push({ ...event, at: performance.now() }),
      onComment: (text) => this.comments.push({ text, at: performance.now() }),
      onRetry: (ms) => this.retries.push(ms),
    });
    let settle: (how: 'end' | 'cut') => void = () => undefined;
    this.closed = new Promise((done) => (settle = done));
    this.req = request(url, { headers: { accept: 'text/event-stream', ...headers } });
    this.opened = new Promise((resolve, reject) => {
      this.req.once('response', (res) => {
        this.req.setTimeout(0);
        this.response = res;
        res.setEncoding('utf8').on('data', (chunk: string) => parser.feed(chunk));
        res.once('end', () => settle(res.complete ? 'end' : 'cut'));
        res.once('aborted', () => settle('cut'));
        res.once('error', () => settle('cut'));
        resolve(res);
      });
      this.req.once('error', (error) => (settle('cut'), reject(error)));
    });
    this.req.setTimeout(headersTimeoutMs, () => this.req.destroy(new Error(`no response headers from ${url} within ${headersTimeoutMs} ms`)));
    this.req.end();
  }

  /** Resolves once `check` holds, polling every 2 ms; rejects naming `what` after `timeoutMs` (default 5000). */
  async until(check: (stream: this) => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    await waitFor(() => check(this), () => `${what} (${this.events.length} events so far)`, { timeoutMs, everyMs: 2 });
  }

  get ids(): string[] {
    return this.events.map((e) => e.id ?? '');
  }

  close(): void {
    this.req.destroy();
  }
}
