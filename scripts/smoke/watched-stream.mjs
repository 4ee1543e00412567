// One SSE stream watched for `npm run smoke:lambda`: the arrival time of every event and heartbeat, read with fetch and
// a line parser of its own (the tool has no dependencies). When the function ends the stream (deadline, idle or
// response budget), it reconnects with Last-Event-ID at once, as a browser does after `retry:`. On a queue source
// (redis-list, sqs: QUEUE_ACK=client on Lambda) it acknowledges each event as RelayClient does, or the stream would stop
// after QUEUE_PREFETCH unacknowledged events and the probes would read as held writes.
/* global fetch, AbortController, TextDecoder, URL, performance, setTimeout, clearTimeout */

export class WatchedStream {
  /**
   * @param {string} url the /events URL @param {Record<string, string>} headers
   * @param {{ explain?: (what: string, status: number, body: string) => string, unreachable?: (url: string, error: unknown) => Error }} [tell]
   *   how a refused or failed connection is told (scripts/smoke/inputs.mjs)
   * @param {string} [ackUrl] where acknowledgements go (the publish function's, as RelayClient's `ackUrl` on Lambda);
   *   default `/ack` next to the stream
   */
  constructor(url, headers, tell = {}, ackUrl = new URL('/ack', url).href) {
    this.url = url;
    this.headers = headers;
    this.tell = tell;
    this.ackUrl = ackUrl;
    /** @type {{ id: string, event: string, data: string, at: number }[]} */
    this.events = [];
    /** @type {number[]} arrival times (performance.now()) of `: heartbeat` comments */
    this.heartbeats = [];
    this.reconnects = 0;
    /** POST /ack requests that did not answer 200 (queue sources only). */
    this.ackFailures = 0;
    this.lastId = '';
    this.controller = new AbortController();
    this.waiters = [];
  }

  /** Resolves once the first response's headers are in (the subscription exists from then on). */
  async open() {
    const response = await this.#connect();
    this.done = this.#read(response);
  }

  async #connect() {
    const headers = { accept: 'text/event-stream', ...this.headers, ...(this.lastId ? { 'last-event-id': this.lastId } : {}) };
    const response = await fetch(this.url, { headers, signal: this.controller.signal }).catch((error) => {
      throw this.tell.unreachable?.(this.url, error) ?? error;
    });
    if (response.status !== 200) {
      const body = await response.text();
      throw new Error(this.tell.explain?.(`GET ${this.url}`, response.status, body) ?? `GET ${this.url} answered ${response.status}: ${body.slice(0, 200)}`);
    }
    return response;
  }

  async #read(response) {
    for (;;) {
      try {
        await this.#parse(response);
      } catch (error) {
        if (this.controller.signal.aborted) return;
        throw error;
      }
      if (this.controller.signal.aborted || this.reconnects >= 20) return;
      this.reconnects += 1;
      response = await this.#connect();
    }
  }

  async #parse(response) {
    const decoder = new TextDecoder();
    let buffer = '';
    let frame = { id: '', event: 'message', data: [] };
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        frame = this.#line(line, frame);
      }
    }
  }

  #line(line, frame) {
    const at = performance.now();
    if (line === '') {
      if (frame.data.length > 0) {
        this.#push(() => this.events.push({ id: frame.id, event: frame.event, data: frame.data.join('\n'), at }));
        this.#acknowledge(frame.id);
      }
      return { id: frame.id, event: 'message', data: [] };
    }
    if (line.startsWith(':')) {
      if (line.slice(1).trim() === 'heartbeat') this.#push(() => this.heartbeats.push(at));
      return frame;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') this.lastId = value;
    if (field === 'id') return { ...frame, id: value };
    if (field === 'event') return { ...frame, event: value };
    if (field === 'data') return { ...frame, data: [...frame.data, value] };
    return frame;
  }

  /**
   * A queue message's id is its handle, `<topic>~<source part>` (docs/queues.md; the part, an SQS receipt handle, may
   * hold `=`); a broadcast id is a cursor, `topic=position[,…]`, with no `~`. Topics hold neither character.
   */
  #acknowledge(id) {
    const tilde = id.indexOf('~');
    if (tilde <= 0 || id.slice(0, tilde).includes('=')) return;
    const url = this.ackUrl;
    const body = JSON.stringify({ topic: id.slice(0, tilde), ids: [id] });
    fetch(url, { method: 'POST', headers: { ...this.headers, 'content-type': 'application/json' }, body, signal: this.controller.signal })
      .then(async (response) => { await response.arrayBuffer(); if (response.status !== 200) this.ackFailures += 1; })
      .catch(() => { if (!this.controller.signal.aborted) this.ackFailures += 1; });
  }

  #push(record) {
    record();
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves true once `predicate()` holds, false after `timeoutMs`. */
  async until(predicate, timeoutMs) {
    const deadline = performance.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
    return true;
  }

  close() {
    this.controller.abort();
  }
}
