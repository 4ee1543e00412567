/**
 * A small wrapper around the browser's EventSource for sse-relay streams.
 *
 * EventSource reconnects by itself after a dropped connection, but gives up for good on an HTTP error (a 503 while a
 * server drains, a 429): readyState becomes CLOSED. This client then re-creates it after a capped, jittered exponential
 * backoff and passes `lastEventId` in the query (a new EventSource cannot send the Last-Event-ID header), so nothing is
 * missed across the gap.
 *
 * @example
 *   const client = new RelayClient('/events', { topics: ['demo'] });
 *   client.on('record', (data, event) => console.log(data, event.lastEventId));
 *   client.onstate = (state) => console.log(state);
 */
export class RelayClient {
  /**
   * @param {string} url  the /events endpoint
   * @param {{ topics: string[], lastEventId?: string, baseDelayMs?: number, maxDelayMs?: number, json?: boolean,
   *           withCredentials?: boolean }} options
   *   baseDelayMs: first backoff (default 1000); maxDelayMs: cap (default 30000); json: parse data as JSON (default true).
   */
  constructor(url, options) {
    this.url = url;
    this.topics = options.topics;
    this.lastEventId = options.lastEventId ?? '';
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 30000;
    this.json = options.json ?? true;
    this.withCredentials = options.withCredentials ?? false;
    /** @type {(state: 'connecting'|'open'|'reconnecting'|'backoff'|'closed', detail?: {delayMs?: number}) => void} */
    this.onstate = () => {};
    /** Called when the server says the stream skipped messages (the cursor was older than what it keeps). */
    this.onreset = () => {};
    this.listeners = new Map();
    this.attempt = 0;
    this.closed = false;
    this.timer = undefined;
    this.source = undefined;
    this.open();
  }

  /** Listens for one event type (`message` for untyped events). The handler gets (data, MessageEvent). */
  on(type, handler) {
    if (!this.listeners.has(type)) {
      this.listeners.set(type, new Set());
      this.source?.addEventListener(type, this.dispatcher(type));
    }
    this.listeners.get(type).add(handler);
    return this;
  }

  /** Stops for good. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.source?.close();
    this.onstate('closed');
  }

  open() {
    const url = new URL(this.url, window.location.href);
    for (const topic of this.topics) url.searchParams.append('topic', topic);
    if (this.lastEventId !== '') url.searchParams.set('lastEventId', this.lastEventId);
    const source = new EventSource(url, { withCredentials: this.withCredentials });
    this.source = source;
    this.onstate('connecting');
    for (const type of this.listeners.keys()) source.addEventListener(type, this.dispatcher(type));
    source.addEventListener('relay.reset', (event) => this.onreset(JSON.parse(event.data)));
    source.onopen = () => {
      this.attempt = 0;
      this.onstate('open');
    };
    source.onerror = () => {
      if (this.closed) return;
      if (source.readyState === EventSource.CLOSED) this.backoff();
      else this.onstate('reconnecting');
    };
  }

  dispatcher(type) {
    return (event) => {
      if (event.lastEventId !== '') this.lastEventId = event.lastEventId;
      let data = event.data;
      if (this.json) {
        try {
          data = JSON.parse(event.data);
        } catch {
          // Not JSON: hand over the text as it is.
        }
      }
      for (const handler of this.listeners.get(type) ?? []) handler(data, event);
    };
  }

  backoff() {
    this.source?.close();
    // Full jitter over a capped exponential: a crowd that lost one server does not return in lockstep.
    const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** this.attempt);
    const delayMs = Math.round(cap / 2 + Math.random() * (cap / 2));
    this.attempt += 1;
    this.onstate('backoff', { delayMs });
    this.timer = setTimeout(() => this.open(), delayMs);
  }
}
