import { parseReset, refusalAction, refusalBody, retryAfterMs } from './sse-refusal.js';
import { EventStreamParser } from './sse-parser.js';

export { retryAfterMs } from './sse-refusal.js';

/**
 * The browser (and Node ≥ 20) client of sse-relay: one subscription that survives expiring tokens, deploys and flaky
 * networks without losing its place. Types: sse-client.d.ts; package import: `sse-relay/client`.
 *
 * It reads the stream with `fetch` instead of `EventSource`, because EventSource hides why a connection failed (a 401
 * and a 503 look the same) and hides the id of id-only frames once it is re-created. With fetch the client sees the
 * status and `Retry-After`, sees every `id:`, and asks the token provider for a token before every (re)connect:
 *
 * - 401 → the provider is asked once more at once (`reason: 'unauthorized'`), then the client backs off (asking with
 *   that reason until a stream opens); a fixed string token that gets a 401 stops the client (state `failed`), since
 *   sending it again cannot succeed;
 * - 403 → state `forbidden`, a `forbidden` event, no retry;
 * - 429 / 503 → waits `Retry-After`; network errors and other 5xx → capped exponential backoff with jitter;
 * - a stream the server ends (token expiry, maximum session, deploy) → reconnects after the server's `retry:`.
 *
 * The last event id is kept across all of it and sent back on every reconnect, so nothing is missed or repeated.
 *
 * @example
 *   const client = new RelayClient('https://relay.example.com/events', {
 *     topics: ['orders'], token: () => fetch('/api/sse-token').then((r) => r.text()) });
 *   client.on('created', (order) => console.log(order.id));
 *   client.addEventListener('statechange', (e) => console.log(e.detail.state));
 */
export class RelayClient extends EventTarget {
  /** @param {string | URL} url the /events endpoint @param {import('./sse-client.js').RelayClientOptions} options */
  constructor(url, options) {
    super();
    const topics = options?.topics;
    if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === 'string' && t !== '')) {
      throw new TypeError('RelayClient: options.topics must be a non-empty array of topic names');
    }
    const transport = options.tokenTransport ?? 'header';
    if (!TRANSPORTS.includes(transport)) throw new TypeError(`RelayClient: tokenTransport must be one of ${TRANSPORTS.join(', ')}`);
    // Every attempt would fail writing the cookie and back off for ever: say so at once.
    if (transport === 'cookie' && options.token !== undefined && globalThis.document === undefined) {
      throw new TypeError('RelayClient: tokenTransport "cookie" needs a browser document (document.cookie); outside a browser use "header" or "query"');
    }
    this.url = String(url);
    // A url that does not resolve would fail every attempt before it is sent, a network error retried for ever.
    try {
      this.resolve(this.url);
    } catch (error) {
      const where = globalThis.location === undefined ? 'an absolute URL (there is no page to resolve it against)' : 'a URL';
      throw new TypeError(`RelayClient: url must be ${where}; got ${JSON.stringify(this.url)}`, { cause: error });
    }
    this.topics = [...topics];
    this.tokenTransport = transport;
    this.lastEventId = options.lastEventId ?? '';
    /** The relay's `sse-ack-url` (QUEUE_ACK_URL), from the newest stream's headers. */
    this.advertisedAckUrl = undefined;
    this.options = withDefaults(options);
    this.retryMs = this.options.retryMs;
    this.state = 'connecting';
    /** Shorthands, like EventSource's onopen: called with (state, detail) and with the reset detail. */
    this.onstate = null;
    this.onreset = null;
    this.listeners = new Map();
    this.attempt = 0;
    this.retriedUnauthorized = false;
    // Set by a 401 until a stream opens: every token asked for meanwhile is asked with reason 'unauthorized', so a
    // provider that caches its token until told otherwise does not hand the refused one back after a failed refresh.
    this.tokenRefused = false;
    this.everOpened = false;
    this.offline = false;
    this.closed = false;
    this.timer = undefined;
    this.controller = undefined;
    /** Option `ack`: acknowledgements of events already handed over, until answered (see close()). */
    this.pendingAcks = new Set();
    // Back online after a network failure: try now instead of waiting out the backoff (not after a 429/503, whose
    // Retry-After still holds).
    this.onOnline = () => {
      if (this.state === 'backoff' && this.offline) this.wait('backoff', 0, { kind: 'network' }, 'reconnect');
    };
    globalThis.addEventListener?.('online', this.onOnline);
    // Starts on a microtask so listeners added right after `new` hear everything.
    queueMicrotask(() => void this.connect('connect'));
  }

  /**
   * Listens for one server event type (`message` for untyped events), or `*` for every type; the handler gets
   * (data, MessageEvent), and `event.type` is the event's type.
   */
  on(type, handler) {
    if (typeof type !== 'string' || type.startsWith('relay.')) {
      throw new TypeError(`RelayClient.on: "${type}" is reserved; listen for the client's "reset" event instead`);
    }
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(handler);
    return this;
  }

  /** Removes a handler added with on(); without a handler, every handler of the type. */
  off(type, handler) {
    if (handler === undefined) this.listeners.delete(type);
    else this.listeners.get(type)?.delete(handler);
    return this;
  }

  /**
   * Stops for good: aborts the stream and any pending reconnect; no handler is called after it. With `ack`, the stream
   * is aborted once the acknowledgements of the events already handed over were answered (at most 10 s): the relay
   * gives back what a closed stream holds, so an acknowledgement that came after the close would find its message
   * handed out again (`sse-relay tail --ack --count n` left all n in the queue).
   */
  close() {
    if (this.closed) return;
    this.closed = true;
    globalThis.removeEventListener?.('online', this.onOnline);
    clearTimeout(this.timer);
    const controller = this.controller;
    if (this.pendingAcks.size === 0) controller?.abort();
    else void settledWithin([...this.pendingAcks], CLOSE_ACK_WAIT_MS).then(() => controller?.abort());
    this.setState('closed', {});
  }

  async connect(reason, detail = {}) {
    if (this.closed) return;
    this.setState('connecting', { ...detail, reason });
    const controller = new AbortController();
    this.controller = controller;
    // An attempt that never gets an answer (a token provider that never settles, a server or a network that swallows
    // the request) is given up after idleTimeoutMs, as a silent stream is; fetch itself has no deadline.
    const deadline = this.options.idleTimeoutMs > 0
      ? setTimeout(() => controller.abort(new Error(`no answer within idleTimeoutMs (${this.options.idleTimeoutMs} ms)`)), this.options.idleTimeoutMs)
      : undefined;
    let response;
    try {
      const token = await this.tokenFor(this.tokenRefused ? 'unauthorized' : reason, controller.signal);
      if (this.closed) return clearTimeout(deadline);
      // Kept for POST /ack (option `ack`): an acknowledgement travels with the token of the stream it belongs to.
      this.token = token;
      const { url, init } = this.request(token);
      response = await this.options.fetch(url, { ...init, signal: controller.signal });
    } catch (error) {
      clearTimeout(deadline);
      if (this.closed) return;
      this.emit('error', { kind: error instanceof TokenError ? 'token' : 'network', error: error.cause ?? error });
      return this.backoff({ kind: 'network' });
    }
    if (this.closed || (response.ok && /^text\/event-stream/i.test(response.headers.get('content-type') ?? ''))) {
      clearTimeout(deadline);
      return this.closed ? controller.abort() : this.read(response);
    }
    // The deadline still runs while a refusal's body is read: one that never ends is cut, and the status decides.
    return this.refused(response).finally(() => clearTimeout(deadline));
  }

  async tokenFor(reason, signal) {
    const source = this.options.token;
    if (source === undefined) return undefined;
    let token;
    try {
      token = typeof source === 'function' ? await untilAborted(source({ reason }), signal) : source;
    } catch (error) {
      throw new TokenError('the token provider failed', { cause: error });
    }
    if (typeof token !== 'string') throw new TokenError('the token provider must return a string');
    return token;
  }

  /** The request of one connection; the token goes where tokenTransport says, and nowhere else (never logged). */
  request(token) {
    const url = this.resolve(this.url);
    for (const topic of this.topics) url.searchParams.append('topic', topic);
    const headers = { accept: 'text/event-stream' };
    // Query and cookie modes keep the request "simple" (no preflight), so the cursor rides in the query too.
    // An id a header cannot carry (a corrupted saved cursor: non-ASCII, a line break) would make every fetch throw
    // before anything is sent, a network error retried for ever; in the query the relay refuses it (400
    // invalid_cursor) and the client starts afresh with a reset.
    if (this.lastEventId !== '') {
      if (this.tokenTransport === 'header' && HEADER_SAFE.test(this.lastEventId)) headers['last-event-id'] = this.lastEventId;
      else url.searchParams.set('lastEventId', this.lastEventId);
    }
    return { url, init: this.authorized(url, headers, token) };
  }

  /**
   * Request options that carry `token` the configured way (header, query parameter or cookie), with credentials when
   * needed. Any other call to the relay (a future `POST /ack` for queue sources) goes through here as well.
   */
  authorized(url, headers, token) {
    if (token !== undefined && token !== '') {
      if (this.tokenTransport === 'header') headers.authorization = `Bearer ${token}`;
      else if (this.tokenTransport === 'query') url.searchParams.set('access_token', token);
      else writeTokenCookie(token, this.options.cookieDomain);
    }
    const credentials = this.tokenTransport === 'cookie' || this.options.withCredentials ? 'include' : 'same-origin';
    return { headers, credentials, cache: 'no-store' };
  }

  /** An absolute URL for `path` relative to the page (browsers) or as given (Node). */
  resolve(path) {
    const base = globalThis.location?.href;
    return base === undefined ? new URL(path) : new URL(path, base);
  }

  async read(response) {
    const openedAt = Date.now();
    let progressed = false;
    // Where the relay says acknowledgements go (QUEUE_ACK_URL; on Lambda the publish function), when it says so.
    this.advertisedAckUrl = advertisedAckUrl(response.headers.get('sse-ack-url'));
    this.retriedUnauthorized = false;
    this.tokenRefused = false;
    this.everOpened = true;
    this.setState('open', {});
    // Once close() was called (a handler may call it), nothing more is dispatched and the position stays at the last
    // event handed over, even for frames that came in the same chunk, as with EventSource's close(): an app that saves
    // `lastEventId` then resumes with the first event it did not get.
    const parser = new EventStreamParser({
      onEvent: (event) => this.closed || ((progressed = true), this.dispatch(event)),
      onRetry: (ms) => (this.retryMs = ms),
      onId: (id) => this.closed || ((progressed = true), (this.lastEventId = id)),
    }, this.lastEventId);
    // A connection that died without a FIN (a sleeping laptop, a NAT that forgot us) never ends by itself: without a
    // byte for idleTimeoutMs (the relay sends a heartbeat every 15 s by default) it is given up and reopened.
    let idle;
    const watch = () => {
      clearTimeout(idle);
      if (this.options.idleTimeoutMs > 0) idle = setTimeout(() => this.controller?.abort(), this.options.idleTimeoutMs);
    };
    try {
      const reader = response.body.getReader();
      for (watch(); ; watch()) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      // A dropped connection ends the same way as a clean end: reconnect and resume from the last id.
    } finally {
      clearTimeout(idle);
    }
    if (this.closed) return;
    // A stream that ended at once and brought nothing (a proxy answering an empty 200, `retry: 0`, a refusal sent as a
    // reconnect hint) is a failed attempt: the backoff grows, with the server's `retry:` as its floor, instead of a loop.
    if (!progressed && Date.now() - openedAt < this.options.baseDelayMs) {
      return this.wait('reconnecting', Math.max(this.retryMs, this.nextBackoffMs()), { reason: 'ended' }, 'reconnect');
    }
    this.attempt = 0;
    // As EventSource does: wait the server's last `retry:` (jittered by the server when it ends a stream on purpose).
    this.wait('reconnecting', this.retryMs, { reason: 'ended' }, 'reconnect');
  }

  async refused(response) {
    const { code, message } = await refusalBody(response);
    // The relay's message says what was wrong with the request (a 4xx), e.g. which topic the token does not allow.
    const detail = { status: response.status, code, ...(message === undefined ? {} : { message }) };
    if (this.closed) return;
    if (detail.status === 401) this.tokenRefused = true;
    const canRefresh = typeof this.options.token === 'function' && !this.retriedUnauthorized;
    // A fixed token the relay refused is refused on every later attempt too (it expired, or it was signed with another
    // key): retrying it would be an endless backoff. Without a token (a cookie the app's own login renews) or with a
    // provider, another attempt can succeed, so those back off.
    const action = detail.status === 401 && this.hasFixedToken()
      ? { kind: 'fail', error: new Error('the relay refused the token (401) and a fixed token cannot be renewed: pass `token` as a function that returns a fresh one') }
      : refusalAction(detail.status, detail.code, response.headers.get('retry-after'), canRefresh);
    switch (action.kind) {
      case 'refresh':
        this.retriedUnauthorized = true;
        return void this.connect('unauthorized', detail);
      case 'forbidden':
        this.setState('forbidden', detail);
        return this.emit('forbidden', detail);
      case 'forget-cursor':
        // Refused again without a cursor: a server that says so is broken, and retrying at once would be a tight loop.
        if (this.lastEventId === '') return this.backoff(detail);
        this.lastEventId = '';
        this.reset({ reason: 'invalid-cursor', topics: [...this.topics] });
        return void this.connect('reconnect', detail);
      case 'wait':
        // Retry-After is a floor, not a licence to hammer: `0` or a past date gets the client's own backoff.
        if (action.delayMs < this.options.baseDelayMs) return this.backoff(detail);
        this.attempt += 1;
        return this.wait('backoff', action.delayMs, detail, 'reconnect');
      case 'fail':
        this.setState('failed', detail);
        return this.emit('error', { kind: 'refused', ...detail, ...(action.error === undefined ? {} : { error: action.error }) });
      default:
        return this.backoff(detail);
    }
  }

  /** Whether the token is one fixed string (not a provider, not "no token"). */
  hasFixedToken() {
    return typeof this.options.token === 'string' && this.options.token !== '';
  }

  backoff(detail) {
    this.wait('backoff', this.nextBackoffMs(), detail, 'reconnect');
  }

  /** The next delay after a failed attempt, counting it. */
  nextBackoffMs() {
    // Equal jitter over a capped exponential: a crowd that lost one server does not return in lockstep.
    const cap = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** this.attempt);
    this.attempt += 1;
    return Math.round(cap / 2 + Math.random() * (cap / 2));
  }

  wait(state, requestedMs, detail, reason) {
    if (this.closed) return;
    // Timers overflow past 2^31 - 1 ms and fire at once: a Retry-After of a month must not become an immediate retry.
    const delayMs = Math.min(requestedMs, MAX_TIMER_MS);
    this.offline = detail.kind === 'network';
    this.setState(state, { ...detail, delayMs });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(reason), delayMs);
  }

  dispatch(frame) {
    if (frame.type.startsWith('relay.')) {
      if (frame.type === 'relay.reset') this.reset(parseReset(frame.data));
      return;
    }
    const handlers = [...(this.listeners.get(frame.type) ?? []), ...(this.listeners.get('*') ?? [])];
    if (handlers.length === 0) return;
    let data = frame.data;
    if (this.options.json) {
      try {
        data = JSON.parse(frame.data);
      } catch {
        // Not JSON: hand over the text as it is.
      }
    }
    const event = new MessageEvent(frame.type, { data: frame.data, lastEventId: frame.lastEventId });
    // Option `ack` (QUEUE_ACK=client): counted as pending before the handlers run, so a close() inside one of them
    // waits for this event's acknowledgement too.
    let acknowledged;
    const pending = this.options.ack ? new Promise((resolve) => (acknowledged = resolve)) : undefined;
    if (pending !== undefined) {
      this.pendingAcks.add(pending);
      void pending.then(() => this.pendingAcks.delete(pending));
    }
    const handled = [];
    for (const handler of handlers) {
      try {
        handled.push(handler(data, event));
      } catch (error) {
        // One failing handler must not stop the stream or the other handlers; the page still sees the error.
        report(error);
        handled.push(Promise.reject(error));
      }
    }
    // Acknowledged once every handler returned (or its promise resolved); one that failed leaves the message
    // unacknowledged, so the relay redelivers it after QUEUE_ACK_TIMEOUT_MS.
    if (pending !== undefined) Promise.all(handled).then(() => this.acknowledge(frame.lastEventId), () => undefined).then(acknowledged);
  }

  /**
   * `POST /ack` (next to the events URL, or at `ackUrl`) for one queue event, whose id is `<topic>~…`, with the token of the stream. A
   * 401 is sent once more with a fresh token: the relay ends a stream when its token expires, so the events of its
   * last moments are acknowledged after that expiry as a rule, and each one refused would come back as a duplicate.
   * A 429 or 503 (the queue unreachable for a moment; on Lambda, every execution busy) is sent again after its
   * Retry-After, at most ACK_RETRIES times and ACK_RETRY_MAX_MS apart. Otherwise not retried: a lost acknowledgement
   * only means a redelivery.
   */
  async acknowledge(id) {
    // Only queue frames carry a handle (`<topic>~…`); a broadcast id (`orders=5`) has nothing to acknowledge.
    const at = id.indexOf('~');
    if (at <= 0) return;
    const topic = id.slice(0, at);
    const post = (token) => {
      const url = this.ackUrl();
      const init = this.authorized(url, { 'content-type': 'application/json' }, token);
      return this.options.fetch(url, { ...init, method: 'POST', body: JSON.stringify({ topic, ids: [id] }) });
    };
    try {
      const sent = this.token;
      let response = await post(sent);
      if (response.status === 401 && typeof this.options.token === 'function') response = await post(await this.ackToken(sent));
      for (let retry = 1; retry <= ACK_RETRIES && (response.status === 429 || response.status === 503); retry += 1) {
        const delayMs = Math.min(ACK_RETRY_MAX_MS, retryAfterMs(response.headers.get('retry-after')) ?? this.options.baseDelayMs * retry);
        // Up to a fifth more, so the acknowledgements of a crowd refused together do not all come back in one burst.
        await new Promise((resolve) => setTimeout(resolve, delayMs * (1 + Math.random() / 5)));
        response = await post(this.token);
      }
    } catch {
      // A redelivery, as for an acknowledgement that never arrived.
    }
  }

  /**
   * Where acknowledgements go: `ackUrl` when given, else where the relay's `sse-ack-url` header says (QUEUE_ACK_URL; on
   * Lambda the publish function's URL, so an acknowledgement never waits for an execution of the stream function), else
   * `ack` next to the events URL.
   */
  ackUrl() {
    if (this.options.ackUrl !== undefined) return this.resolve(this.options.ackUrl);
    if (this.advertisedAckUrl !== undefined) return new URL(this.advertisedAckUrl);
    const url = this.resolve(this.url);
    url.search = '';
    url.pathname = url.pathname.replace(/[^/]*$/, 'ack');
    return url;
  }

  /**
   * The token to acknowledge with after `refused` got a 401: the stream's own when a reconnect already replaced it,
   * else one fresh token from the provider (reason `unauthorized`) shared by every acknowledgement refused meanwhile.
   */
  ackToken(refused) {
    if (this.token !== refused) return Promise.resolve(this.token);
    this.ackRenewal ??= this.tokenFor('unauthorized', new AbortController().signal).then((token) => {
      if (this.token === refused) this.token = token;
      return token;
    }).finally(() => (this.ackRenewal = undefined));
    return this.ackRenewal;
  }

  reset(detail) {
    this.emit('reset', detail);
    if (typeof this.onreset === 'function') this.onreset(detail);
  }

  setState(state, detail) {
    const previous = this.state;
    this.state = state;
    this.emit('statechange', { ...detail, state, previous });
    if (typeof this.onstate === 'function') this.onstate(state, detail);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

const TRANSPORTS = ['header', 'query', 'cookie'];

/** A value fetch sends as a header as it is: printable ASCII (every id the relay writes is). */
const HEADER_SAFE = /^[\x20-\x7e]*$/;

const DEFAULTS = {
  token: undefined,
  tokenTransport: 'header',
  cookieDomain: undefined,
  withCredentials: false,
  json: true,
  baseDelayMs: 1000,
  maxDelayMs: 30000,
  retryMs: 2000,
  idleTimeoutMs: 45000,
  fetch: (input, init) => globalThis.fetch(input, init),
  ack: false,
  ackUrl: undefined,
};

// The smallest value of each timing option: a backoff of 0 (or NaN, from an option passed as undefined) retries at once.
const TIMING_MINIMUMS = { baseDelayMs: 1, maxDelayMs: 1, retryMs: 0, idleTimeoutMs: 0 };

/** The longest delay a timer takes as it is (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Times an acknowledgement refused with 429 or 503 is sent again, and the longest wait before each, ms. */
const ACK_RETRIES = 3;
const ACK_RETRY_MAX_MS = 5000;

/** Longest close() keeps a stream open for the acknowledgements of events already handed over (option `ack`), ms. */
const CLOSE_ACK_WAIT_MS = 10000;

/** Resolves once every promise settled, or after `ms`, whichever comes first. */
function settledWithin(promises, ms) {
  let timer;
  const deadline = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([Promise.allSettled(promises), deadline]).finally(() => clearTimeout(timer));
}

/** The options with their defaults: one passed as `undefined` takes its default, and types and timings are checked. */
function withDefaults(options) {
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const merged = { ...DEFAULTS, ...given };
  // A token given as the provider's result (`token: getToken()`, a Promise) failed every attempt ("must return a
  // string") and backed off for ever; a fetch or lastEventId of the wrong type failed every attempt as a network error.
  const { token, fetch, lastEventId } = merged;
  if (token !== undefined && typeof token !== 'string' && typeof token !== 'function') {
    const hint = typeof token?.then === 'function' ? ' (a Promise: pass the function, token: () => getToken(), not its result)' : '';
    throw new TypeError(`RelayClient: options.token must be a string or a function returning one; got ${describeType(token)}${hint}`);
  }
  if (typeof fetch !== 'function') throw new TypeError(`RelayClient: options.fetch must be a function like globalThis.fetch; got ${describeType(fetch)}`);
  if (lastEventId !== undefined && typeof lastEventId !== 'string') throw new TypeError(`RelayClient: options.lastEventId must be a string (an id the relay sent); got ${describeType(lastEventId)}`);
  if (merged.ackUrl !== undefined && typeof merged.ackUrl !== 'string') throw new TypeError(`RelayClient: options.ackUrl must be a string (the URL of POST /ack, e.g. the publish function's URL + '/ack'); got ${describeType(merged.ackUrl)}`);
  for (const [name, minimum] of Object.entries(TIMING_MINIMUMS)) {
    const value = merged[name];
    if (typeof value !== 'number' || !(value >= minimum)) throw new TypeError(`RelayClient: options.${name} must be a number ≥ ${minimum} (ms); got ${String(value)}`);
  }
  return merged;
}

/** An absolute http(s) URL from the `sse-ack-url` header, or undefined (absent, or not one: then next to /events). */
function advertisedAckUrl(value) {
  if (value === null || value === '') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function describeType(value) {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

class TokenError extends Error {}

/** `promise`, or a rejection with the signal's reason once `signal` aborts (a provider cannot be cancelled, only left). */
function untilAborted(promise, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    Promise.resolve(promise).then(resolve, reject);
  });
}

function writeTokenCookie(token, domain) {
  if (globalThis.document === undefined) throw new TokenError('tokenTransport "cookie" needs a browser document');
  const secure = globalThis.location?.protocol === 'https:' ? '; Secure' : '';
  const scope = domain === undefined ? '' : `; Domain=${domain}`;
  globalThis.document.cookie = `sse_token=${token}; Path=/; SameSite=Strict${secure}${scope}`;
}

function report(error) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
  else setTimeout(() => { throw error; });
}
