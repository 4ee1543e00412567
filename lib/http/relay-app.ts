import { acknowledge, ackLimits } from './ack-route.js';
import type { AdmissionGate } from '../limits/admission-gate.js';
import { allowEveryone, type Authorizer } from '../auth/authorizer.js';
import type { QueueConfig, ServerConfig } from '../config/index.js';
import { ConnectionLimits } from '../limits/connection-limits.js';
import { negotiateStreamCoding, withHeaders } from './content-coding.js';
import { CorsPolicy } from './cors.js';
import type { DrainPace } from '../engine/drain-pace.js';
import { errorBody, RelayError, toRelayError, type ErrorCode } from '../errors.js';
import { openEventStream } from './events-route.js';
import { Hub } from '../engine/hub.js';
import { TopicFanout } from '../engine/topic-fanout.js';
import { INVALID_TARGET_PATH, json, type BodyResponse, type HeaderMap, type RelayRequest, type RelayResponse, type StreamResponse } from '../request.js';
import { silentLogger, type Logger } from '../logger.js';
import { Metrics } from '../metrics.js';
import { publish } from './publish-route.js';
import { AckRegistry, AUTO_ACK, type QueueAckOptions } from '../engine/queue-ack.js';
import { RateLimiter } from '../limits/rate-limit.js';
import { reconnectHint, wantsReconnectHint } from './reconnect-hint.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
import type { Source } from '../source.js';
import { timedSource } from '../engine/timed-source.js';
import { parseTopics } from '../sse/topics.js';

/** A static file served by the container (the demo page and the browser client). */
export interface Asset {
  contentType: string;
  body: Uint8Array;
}

export interface RelayAppOptions {
  config: ServerConfig;
  /** QUEUE_ACK, QUEUE_ACK_TIMEOUT_MS, QUEUE_PREFETCH (queue sources); default: acknowledged by the socket. */
  queue?: QueueConfig;
  source: Source;
  metrics?: Metrics;
  logger?: Logger;
  authorizer?: Authorizer;
  /** Cross-origin policy (CORS_ORIGINS); default: no cross-origin access. */
  cors?: CorsPolicy;
  /** Files by URL path (`/`, `/sse-client.js`); none on Lambda. */
  assets?: ReadonlyMap<string, Asset>;
  /**
   * The Prometheus exposition `GET /metrics` answers with. Unset: `/metrics` is 404 here (METRICS_PORT serves it on its
   * own listener, and a function URL must not publish it).
   */
  metricsExposition?: () => Promise<{ contentType: string; body: string }>;
  /** Overload admission for new streams (the container's); none on Lambda, where an invocation serves one stream. */
  admission?: AdmissionGate;
}

// HEAD wherever a plain body answers GET (RFC 9110 §9.1; load balancers probe with it): the adapters leave the body out.
const ROUTES: Record<string, readonly string[]> = {
  '/events': ['GET'],
  '/publish': ['POST'],
  '/ack': ['POST'],
  '/healthz': ['GET', 'HEAD'],
  '/readyz': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
};

/**
 * Refusals of a full or draining process: the server working as designed, so a warning without a stack (a flood of
 * refused requests would otherwise be as many error lines of a kilobyte or more each). sse_http_errors_total counts them.
 */
const CAPACITY_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['too_many_connections', 'overloaded', 'shutting_down']);

/**
 * Headers of the static demo page and client: only same-origin scripts, styles and connections (the page has no inline
 * code), no framing by other sites (clickjacking), no MIME sniffing, no referrer (a URL may hold an access_token).
 */
const STATIC_HEADERS: HeaderMap = {
  'cache-control': 'no-cache',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * sse-relay's HTTP API as a function from request to response, the same in every runtime. Adapters translate to and
 * from node:http or a function-URL event; they add nothing to what is answered.
 */
export class RelayApp {
  readonly hub: Hub;
  /** The live fan-out of a broadcast source, shared by the hub (its streams join it) and the sessions (they replay). */
  private readonly fanout: TopicFanout | undefined;
  readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly limits: ConnectionLimits;
  private readonly cors: CorsPolicy;
  private readonly publishLimiter: RateLimiter;
  private readonly ackMissLimiter: RateLimiter;
  private readonly queueAck: QueueAckOptions;
  private readonly ackRegistry = new AckRegistry();
  private draining = false;

  constructor(private readonly options: RelayAppOptions) {
    const { config, source } = options;
    this.metrics = options.metrics ?? new Metrics();
    this.logger = options.logger ?? silentLogger;
    const broadcast = source.delivery === 'broadcast' ? timedSource(source, this.metrics) : undefined;
    this.fanout = broadcast === undefined ? undefined : new TopicFanout(broadcast, this.metrics, this.logger);
    this.hub = new Hub(config, this.metrics, this.logger, this.fanout);
    this.limits = new ConnectionLimits(config.maxConnections, config.maxConnectionsPerClient, (slots, clients) => {
      this.metrics.set('sse_connection_slots_held', slots);
      this.metrics.set('sse_connection_slot_clients', clients);
    });
    this.cors = options.cors ?? new CorsPolicy([]);
    this.publishLimiter = new RateLimiter(config.publishRatePerMinute);
    this.ackMissLimiter = new RateLimiter(config.ackMissesPerMinute, undefined, undefined, 'ACK_MISSES_PER_MINUTE');
    const queue = options.queue;
    this.queueAck = queue === undefined ? AUTO_ACK : { mode: queue.ack, timeoutMs: queue.ackTimeoutMs, prefetch: queue.prefetch, settleMs: queue.settleMs, graceMs: queue.graceMs };
  }

  /** Answers one request. Never throws: every failure becomes a JSON error response with its code. */
  async handle(request: RelayRequest): Promise<RelayResponse> {
    const requestId = requestIdOf(request.header(REQUEST_ID_HEADER));
    const started = Date.now();
    let response: RelayResponse;
    // The code of a refusal sent as a reconnect hint: a 200 stream, but no stream was opened (the log says so).
    let hintCode: string | undefined;
    try {
      response = request.method === 'OPTIONS' && this.cors.handlesPreflight(request.path)
        ? this.cors.preflight(request.path, request.header('origin'))
        : await this.route(request);
    } catch (thrown) {
      const error = toRelayError(thrown);
      if (wantsReconnectHint(error, request)) hintCode = error.code;
      response = hintCode !== undefined ? this.hintResponse(error, request, requestId) : this.errorResponse(error, request, requestId);
    }
    // Only the path is logged: the query may hold an access_token, bodies hold payloads.
    const quiet = request.path === '/healthz' || request.path === '/readyz' || request.path === '/metrics';
    const fields = { requestId, method: request.method, path: request.path, status: response.status, ms: Date.now() - started, client: request.remoteAddress };
    if (hintCode !== undefined) this.logger.info({ ...fields, code: hintCode }, 'stream refused: told to come back');
    else this.logger[quiet ? 'debug' : 'info'](fields, response.kind === 'stream' ? 'stream opened' : 'request');
    // A new object: SSE_HEADERS and other shared header maps must not be mutated.
    response.headers = { ...withHeaders(response.headers, this.cors.headersFor(request.header('origin'))), [REQUEST_ID_HEADER]: requestId };
    return response;
  }

  private async route(request: RelayRequest): Promise<RelayResponse> {
    const { config, source, authorizer = allowEveryone } = this.options;
    if (request.path === INVALID_TARGET_PATH) throw new RelayError('invalid_request', 'the request target is not origin-form');
    const methods = request.path === '/metrics' && this.options.metricsExposition === undefined ? undefined : ROUTES[request.path];
    const asset = methods === undefined ? this.options.assets?.get(request.path) : undefined;
    if (asset !== undefined) return this.serveAsset(request, asset);
    if (methods === undefined) throw new RelayError('not_found', 'no such route');
    if (!methods.includes(request.method)) throw new RelayError('method_not_allowed', `${request.path} takes ${methods.join(', ')}`);
    switch (request.path) {
      case '/events':
        // Only where the CORS policy is the relay's own: a function URL's `cors` block decides on Lambda, where
        // CORS_ORIGINS stays unset and an allowed page would otherwise be refused here.
        if (this.options.cors?.refusesStreamFor(request.header('origin'), request.header('sec-fetch-site')) === true) {
          throw new RelayError('origin_not_allowed', 'a cross-origin page not in CORS_ORIGINS asked for a stream');
        }
        if (this.draining) throw new RelayError('shutting_down', 'draining', { retryAfterSeconds: 1 });
        return this.openStream(request, authorizer);
      case '/publish':
        return publish(request, {
          source, authorizer, metrics: this.metrics, maxBodyBytes: config.maxBodyBytes, maxMessageBytes: config.maxMessageBytes,
          rateLimiter: this.publishLimiter, admit: () => this.admitPublish(),
        });
      case '/ack':
        return acknowledge(request, {
          source, authorizer, registry: this.ackRegistry, metrics: this.metrics, enabled: this.queueAck.mode === 'client', missLimiter: this.ackMissLimiter,
          ...ackLimits(this.queueAck.prefetch, config.maxBodyBytes),
        });
      case '/healthz':
        return json(200, { status: 'ok' });
      case '/readyz':
        return (await this.isReady()) ? json(200, { status: 'ready' }) : json(503, { status: this.draining ? 'draining' : 'source-unavailable' });
      default: {
        const exposition = await (this.options.metricsExposition as NonNullable<RelayAppOptions['metricsExposition']>)();
        return { kind: 'body', status: 200, headers: { 'content-type': exposition.contentType }, body: exposition.body };
      }
    }
  }

  /**
   * `GET /events`. Admission comes before any parsing, auth or source work (a refusal must cost less than the stream it
   * prevents); a stream refused after it gives its admission back, so refused requests never keep others out.
   */
  private async openStream(request: RelayRequest, authorizer: Authorizer): Promise<RelayResponse> {
    const { config, source } = this.options;
    const giveBack = this.options.admission?.admit();
    try {
      return negotiateStreamCoding(this.withTopicCount(request, await openEventStream(request, {
        session: {
          hub: this.hub, fanout: this.fanout, metrics: this.metrics, logger: this.logger, retryMs: config.retryMs, replayMax: config.replayMax,
          queueAck: this.queueAck, ackRegistry: this.ackRegistry,
        },
        source, authorizer, limits: this.limits, maxTopics: config.maxTopics, maxSessionMs: config.maxSessionMs,
        ackUrl: this.queueAck.mode === 'client' ? this.options.queue?.ackUrl : undefined,
      })), request.header('accept-encoding'), config.compression);
    } catch (error) {
      giveBack?.();
      throw error;
    }
  }

  /**
   * With METRICS_TOPICS_TOP_N, the stream counted in the per-topic gauge while it is open (one promise reaction and its
   * topic list per stream, so only when asked for). Duration and end reason come from the adapter (onStreamEnd).
   */
  private withTopicCount(request: RelayRequest, stream: StreamResponse): StreamResponse {
    const { maxTopics, metricsTopicsTopN } = this.options.config;
    if (metricsTopicsTopN <= 0) return stream;
    const topics = parseTopics(request.query.getAll('topic'), maxTopics);
    const run = stream.run;
    stream.run = (sink) => {
      this.metrics.topicsJoined(topics);
      return run(sink).then(() => this.metrics.topicsLeft(topics));
    };
    return stream;
  }

  private serveAsset(request: RelayRequest, asset: Asset): RelayResponse {
    if (request.method !== 'GET' && request.method !== 'HEAD') throw new RelayError('method_not_allowed', 'static files take GET');
    return { kind: 'body', status: 200, headers: { ...STATIC_HEADERS, 'content-type': asset.contentType }, body: asset.body };
  }

  private async isReady(): Promise<boolean> {
    if (this.draining) return false;
    try {
      return await this.options.source.isReady();
    } catch {
      return false;
    }
  }

  private errorResponse(error: RelayError, request: RelayRequest, requestId: string): BodyResponse {
    this.metrics.incLabelled('sse_http_errors_total', { code: error.code, route: routeLabel(request.path, this.options.assets) });
    if (CAPACITY_REFUSALS.has(error.code)) this.logger.warn({ requestId, code: error.code, path: request.path }, error.message);
    else if (error.code !== 'not_found') this.logger[error.status >= 500 ? 'error' : 'debug']({ requestId, code: error.code, path: request.path, err: error }, error.message);
    const headers: HeaderMap = {};
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
    if (error.code === 'method_not_allowed') headers['allow'] = (ROUTES[request.path] ?? ['GET', 'HEAD']).join(', ');
    // A 401 must name the scheme that would be accepted (RFC 9110 §15.5.2; RFC 6750 §3 for bearer tokens).
    if (error.code === 'unauthorized') headers['www-authenticate'] = 'Bearer';
    return json(error.status, errorBody(error), headers);
  }

  /** An EventSource refused for a passing reason (overload, drain) is told when to come back, see reconnect-hint.ts. */
  private hintResponse(error: RelayError, request: RelayRequest, requestId: string): StreamResponse {
    // Counted with the refusals it stands for (sse_http_errors_total{code="overloaded"}), though it is sent as a 200.
    this.metrics.incLabelled('sse_http_errors_total', { code: error.code, route: routeLabel(request.path, this.options.assets) });
    this.logger.debug({ requestId, code: error.code, path: request.path }, error.message);
    return reconnectHint(error);
  }

  // A message this process took while draining would reach only its streams not yet closed, and die with it where
  // positions do not outlive the process (memory): the producer retries it on the process that takes over.
  private admitPublish(): void {
    const { source } = this.options;
    if (this.draining && source.delivery === 'broadcast' && source.positionAfterRestart !== undefined) {
      throw new RelayError('shutting_down', 'draining; publish to the process that takes over', { retryAfterSeconds: 1 });
    }
  }

  // The first step of shutdown(): readiness fails and new streams are refused from now on.
  private startDraining(): void {
    this.draining = true;
    if (this.options.source.delivery === 'queue') this.options.source.drain?.();
  }

  /** Closes every stream at the drain's pace (each gets a jittered `retry:`, see Hub.drain), then stops the hub. */
  async shutdown(pace: DrainPace): Promise<void> {
    this.startDraining();
    await this.hub.drain(pace);
    await this.hub.close();
  }
}

/** The `route` label of a request: a known route, `static` for a file, `other` for everything else (bounded). */
function routeLabel(path: string, assets: ReadonlyMap<string, Asset> | undefined): string {
  if (ROUTES[path] !== undefined) return path.slice(1);
  return assets?.has(path) === true ? 'static' : 'other';
}
