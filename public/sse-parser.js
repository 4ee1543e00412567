/**
 * An event-stream parser that follows the WHATWG rules (html.spec.whatwg.org, "Interpreting an event stream"), for the
 * client in sse-client.js, which reads the stream with fetch so it can see status codes and every `id:`.
 *
 * It keeps the one rule EventSource users rely on and fetch readers often get wrong: an `id:` field followed by a blank
 * line with no `data:` sets the last event id without dispatching an event. sse-relay sends such id-only frames when a
 * stream goes live and before it ends, so a quiet stream still resumes exactly.
 */
export class EventStreamParser {
  /**
   * @param {{ onEvent(event: {type: string, data: string, lastEventId: string}): void, onRetry(ms: number): void,
   *           onId(id: string): void }} handlers
   * @param {string} [lastEventId] the id the previous connection ended with (a reconnect keeps it, as EventSource does)
   */
  constructor(handlers, lastEventId = '') {
    this.handlers = handlers;
    // UTF-8 decode (the spec's own step) drops one byte order mark at the start of the stream, and only one: a second
    // U+FEFF belongs to the first field name, as in EventSource.
    this.decoder = new TextDecoder('utf-8');
    this.pending = '';
    this.afterCR = false;
    this.data = [];
    this.type = '';
    this.idBuffer = lastEventId;
    this.lastEventId = lastEventId;
  }

  /** Feeds raw bytes (a chunk of the response body, cut anywhere, even inside a character or a CRLF). */
  feed(bytes) {
    let text = this.decoder.decode(bytes, { stream: true });
    // A chunk that decodes to nothing (empty, or the first bytes of a character) must not forget a CR just seen.
    if (text === '') return;
    // A CR at the end of the previous chunk was a line end; an LF right after it belongs to it.
    if (this.afterCR && text.startsWith('\n')) text = text.slice(1);
    this.afterCR = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(this.pending + text.slice(start, i));
      this.pending = '';
      if (c === 13) {
        if (i + 1 === text.length) this.afterCR = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.pending += text.slice(start);
  }

  line(line) {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') this.data.push(value);
    else if (name === 'event') this.type = value;
    else if (name === 'id' && !value.includes('\0')) this.idBuffer = value;
    else if (name === 'retry' && /^\d+$/.test(value)) this.handlers.onRetry(Number(value));
    return undefined;
  }

  // The id takes effect only at the blank line that ends the frame: a stream cut inside a frame must not move the cursor
  // past an event that never arrived whole.
  dispatch() {
    if (this.idBuffer !== this.lastEventId) {
      this.lastEventId = this.idBuffer;
      this.handlers.onId(this.lastEventId);
    }
    const type = this.type === '' ? 'message' : this.type;
    const data = this.data;
    this.data = [];
    this.type = '';
    if (data.length === 0) return;
    this.handlers.onEvent({ type, data: data.join('\n'), lastEventId: this.lastEventId });
  }
}
