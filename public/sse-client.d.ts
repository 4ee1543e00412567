/** Types of public/sse-client.js, the sse-relay browser client (package import: `sse-relay/client`). */

/**
 * Why the token provider is being asked: the first connect, a reconnect, or after a 401 (force a refresh): right after
 * it, and on every attempt after that until a stream opens.
 */
export type TokenReason = 'connect' | 'reconnect' | 'unauthorized';

/** A token, or a function that returns one; called before every (re)connect. `''` means "send no token". */
export type TokenSource = string | ((context: { reason: TokenReason }) => string | Promise<string>);

/**
 * Where the token goes:
 * - `header` (default): `Authorization: Bearer …` (cross-origin this costs a preflight, cached 10 minutes);
 * - `query`: `?access_token=…` (no preflight; the relay never logs it, but proxies you run might);
 * - `cookie`: the `sse_token` cookie, sent with credentials. A token the provider returns is written to
 *   `document.cookie` (SameSite=Strict, Secure on https, `cookieDomain` if set), so the relay must be same-site;
 *   a provider that returns `''` leaves the cookie to your server (HttpOnly, the safer choice).
 */
export type TokenTransport = 'header' | 'query' | 'cookie';

export interface RelayClientOptions {
  /** Topics to subscribe to (at least one). */
  topics: readonly string[];
  /** The token, or a provider called before every (re)connect. Default: none. */
  token?: TokenSource;
  /** How the token travels. Default `header`. `cookie` with a token needs a browser (document.cookie); the constructor throws elsewhere. */
  tokenTransport?: TokenTransport;
  /** `Domain` attribute of the cookie written in `cookie` mode (e.g. `example.com` for relay.example.com). Default: none. */
  cookieDomain?: string;
  /** Send cookies cross-origin (fetch `credentials: 'include'`); always on in `cookie` mode. Default false. */
  withCredentials?: boolean;
  /** Resume after this id (e.g. one saved in sessionStorage). Default: from the newest message. */
  lastEventId?: string;
  /** Parse each event's data as JSON when it is JSON (else the text). Default true. */
  json?: boolean;
  /** First backoff after a failure, ms (later ones double, with jitter). Default 1000. */
  baseDelayMs?: number;
  /** Longest backoff, ms. Default 30000. */
  maxDelayMs?: number;
  /** Reconnect delay until the server sends `retry:`, ms. Default 2000. */
  retryMs?: number;
  /**
   * A stream that brings no byte (not even a heartbeat) for this long is given up and reopened, ms; so is an attempt
   * whose token provider, response headers or refusal body take this long. 0 turns it off. Keep it above the relay's HEARTBEAT_MS (15 s by default). Default 45000.
   */
  idleTimeoutMs?: number;
  /** The fetch to use (a wrapper that adds headers, or a polyfill). Default `globalThis.fetch`. */
  fetch?: (input: URL, init: RequestInit) => Promise<Response>;
  /**
   * Queue sources with QUEUE_ACK=client: acknowledge each event (`POST /ack` next to the events URL, with the stream's
   * token) once every handler returned, or the promise it returned resolved; a handler that throws or rejects leaves
   * the message unacknowledged, so the relay redelivers it. An acknowledgement refused with 401 (the token expired
   * meanwhile) is sent once more with a fresh token from the provider (reason `unauthorized`); one refused with 429 or
   * 503 is sent again after its Retry-After, up to 3 times, at most 5 s apart. Default false.
   */
  ack?: boolean;
  /**
   * Where `ack` sends `POST /ack`, absolute or relative to the page. On AWS Lambda pass the publish function's URL +
   * `/ack`: its executions are not the stream function's, so acknowledgements are never throttled by the streams they
   * belong to (docs/lambda.md). The token goes as `tokenTransport` says; `cookie` needs the same site. Default: where
   * the relay's `sse-ack-url` response header says (QUEUE_ACK_URL, which serverless.yml sets to the publish function),
   * else `ack` next to the events URL.
   */
  ackUrl?: string;
}

/**
 * - `connecting`: a request is on its way;
 * - `open`: the stream is live;
 * - `reconnecting`: the server ended the stream (or the network dropped it); reconnecting after its `retry:` (or after
 *   the growing backoff, if longer, when the stream ended at once bringing nothing);
 * - `backoff`: the last attempt failed; waiting `delayMs` (Retry-After on 429/503, else jittered exponential);
 * - `forbidden`: 403, the token may not read these topics; the client stopped (create a new one to try again);
 * - `failed`: another 4xx (a bad topic, a missing route), or a 401 for a fixed string `token` (it cannot be renewed:
 *   pass a provider function instead); the client stopped;
 * - `closed`: close() was called.
 */
export type RelayState = 'connecting' | 'open' | 'reconnecting' | 'backoff' | 'forbidden' | 'failed' | 'closed';

export interface StateChangeDetail {
  state: RelayState;
  previous: RelayState;
  /** HTTP status of the refusal that led here, if any. */
  status?: number;
  /** The relay's error code (README, "Errors"), if the refusal had one. */
  code?: string;
  /** The relay's words on what was wrong (README, "Errors"), if the refusal had them. */
  message?: string;
  /** How long until the next attempt, ms (`reconnecting`, `backoff`). */
  delayMs?: number;
  reason?: string;
}

/** The server skipped messages (the cursor was older than it keeps, or unknown): reload what the page shows. */
export interface ResetDetail {
  reason: string;
  /** The topics whose messages may be missing; the subscription's other topics resumed exactly. */
  topics: string[];
}

export interface ErrorDetail {
  /** `network`: no answer; `token`: the provider threw or returned a non-string; `refused`: a 4xx that stops the client. */
  kind: 'network' | 'token' | 'refused';
  status?: number;
  code?: string;
  message?: string;
  /** The underlying error (`network`, `token`); for `refused` a 401 of a fixed string token, saying to pass a provider. */
  error?: unknown;
}

export interface RelayClientEventMap {
  statechange: CustomEvent<StateChangeDetail>;
  forbidden: CustomEvent<{ status: number; code?: string; message?: string }>;
  reset: CustomEvent<ResetDetail>;
  error: CustomEvent<ErrorDetail>;
}

/** Gets the event's data (parsed as JSON when `json` is on and it parses) and the event (`lastEventId`, raw `data`). */
export type EventHandler<T = unknown> = (data: T, event: MessageEvent<string>) => void;

export declare class RelayClient extends EventTarget {
  /**
   * Starts connecting on a microtask, so listeners added right after `new` hear everything.
   *
   * @throws {TypeError} naming the option: topics not a non-empty array of names, an unknown tokenTransport (or
   *   `cookie` with a token outside a browser), a url that does not resolve, a token that is neither a string nor a
   *   function (a Promise: pass the function), a fetch that is not a function, a lastEventId that is not a string, a
   *   timing option that is not a number at or above its minimum.
   */
  constructor(url: string | URL, options: RelayClientOptions);
  /** The current state; every change is also a `statechange` event. */
  readonly state: RelayState;
  /** The id of the newest event or position received; sent back on every reconnect. */
  readonly lastEventId: string;
  readonly topics: readonly string[];
  /** Shorthand listener for state changes. */
  onstate: ((state: RelayState, detail: Omit<StateChangeDetail, 'state' | 'previous'>) => void) | null;
  /** Shorthand listener for resets. */
  onreset: ((detail: ResetDetail) => void) | null;
  /**
   * Listens for one server event type (`message` for events without `event:`), or `*` for every type (`event.type`
   * tells which). `relay.*` names are reserved.
   */
  on<T = unknown>(type: string, handler: EventHandler<T>): this;
  /** Removes one handler, or every handler of the type. */
  off(type: string, handler?: EventHandler<never>): this;
  /**
   * Stops for good; no handler is called after it, even from a handler (`lastEventId` stays at the last event handed
   * over). With `ack`, the stream itself closes once the acknowledgements of the events already handed over were
   * answered (at most 10 s), since the relay gives back what a closed stream still holds.
   */
  close(): void;
  addEventListener<K extends keyof RelayClientEventMap>(type: K, listener: (event: RelayClientEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof RelayClientEventMap>(type: K, listener: (event: RelayClientEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** Retry-After (seconds or an HTTP date) in ms; undefined when absent or malformed. */
export declare function retryAfterMs(value: string | null | undefined): number | undefined;
