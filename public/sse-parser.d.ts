/** Types of public/sse-parser.js, the WHATWG event-stream parser inside the sse-relay client. */

/** One dispatched event: its type (`message` by default), its data lines joined with LF, and the last event id. */
export interface ParsedEvent {
  type: string;
  data: string;
  lastEventId: string;
}

export interface EventStreamHandlers {
  onEvent(event: ParsedEvent): void;
  /** A `retry:` field with a valid number of ms. */
  onRetry(ms: number): void;
  /** The last event id changed (at the blank line that ends a frame, id-only frames included). */
  onId(id: string): void;
}

export declare class EventStreamParser {
  /** @param lastEventId the id the previous connection ended with (kept for events without `id:`) */
  constructor(handlers: EventStreamHandlers, lastEventId?: string);
  /** Feeds raw bytes of the body, cut anywhere. */
  feed(bytes: Uint8Array): void;
}
