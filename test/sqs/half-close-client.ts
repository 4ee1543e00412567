import { request } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/**
 * One SSE subscription over node:http that can leave gracefully: `leave()` half-closes the socket (FIN) and keeps
 * reading until the server closes its side, so every frame the server wrote (and therefore acked) is still read.
 * fetch cannot do this: aborting it drops bytes already on the wire, which no server could ever account for.
 */
export class HalfCloseClient {
  readonly events: EventSourceMessage[] = [];
  status = 0;
  readonly done: Promise<void>;
  private leaveNow: () => void = () => undefined;
  private responded: Promise<void> = Promise.resolve();

  constructor(url: string, onEvent: (event: EventSourceMessage) => void = () => undefined) {
    const parser = createParser({ onEvent: (e) => (this.events.push(e), onEvent(e)) });
    let onResponse: () => void = () => undefined;
    this.responded = new Promise((resolve) => (onResponse = resolve));
    this.done = new Promise<void>((resolve, reject) => {
      const req = request(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
        onResponse();
        this.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.on('close', () => resolve());
        res.on('error', () => resolve());
      });
      req.on('error', reject);
      req.end();
      this.leaveNow = () => req.socket?.end();
    });
  }

  /**
   * Half-closes the connection once the response has started (a FIN before it would make the server drop the request
   * unanswered, which a loaded machine turns into a "socket hang up") and resolves when the server closed its side.
   */
  async leave(): Promise<void> {
    await Promise.race([this.responded, this.done]);
    this.leaveNow();
    await this.done;
  }
}
