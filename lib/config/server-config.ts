import { ConfigError } from './config-error.js';
import type { EnvReader } from './env-reader.js';

export const SOURCE_MODES = ['memory', 'redis', 'redis-list', 'sqs'] as const;
export type SourceMode = (typeof SOURCE_MODES)[number];

/** HTTP server, session and limit settings shared by every runtime. */
export interface ServerConfig {
  /** TCP port of the container server. Default 8080. */
  port: number;
  /** Address to listen on. Default `0.0.0.0`. */
  host: string;
  /** Where messages come from. Default `memory`. */
  source: SourceMode;
  /** Run the built-in demo publisher (and default auth off). Default false; `npm start` turns it on. */
  demo: boolean;
  /** pino log level. Default `info`. */
  logLevel: string;
  /** Interval of the heartbeat comment, ms. Default 15000 (below the 60 s idle cut of nginx and load balancers). */
  heartbeatMs: number;
  /** `retry:` sent first on every stream: how long EventSource waits before reconnecting, ms. Default 2000. */
  retryMs: number;
  /** Longest a stream stays open before it ends with a jittered `retry:` and the client reconnects, ms. Default 1800000. */
  maxSessionMs: number;
  /** End a stream after this long without an event (heartbeats do not count), ms; 0 = never. Default 0. */
  sessionIdleMs: number;
  /** Messages kept per topic by the memory source (its replay window). Default 1000. */
  memoryBufferSize: number;
  /** Most messages replayed on one reconnect, per topic. Default 1000. */
  replayMax: number;
  /** Bytes that may wait for one slow connection before it is cut off (it resumes from its cursor). Default 1048576. */
  connectionBufferBytes: number;
  /** Largest `POST /publish` body, bytes. Default 131072. */
  maxBodyBytes: number;
  /** Largest message `data`, bytes of UTF-8. Default 65536. */
  maxMessageBytes: number;
  /** Most topics in one subscription. Default 16. */
  maxTopics: number;
  /** Most open streams per process; beyond it `/events` answers 503 with Retry-After. Default 10000. */
  maxConnections: number;
  /** Most open streams per client address; beyond it 429. Default 100. */
  maxConnectionsPerClient: number;
  /** Publishes per minute allowed per token (or per client address without auth); 0 = unlimited. Default 600. */
  publishRatePerMinute: number;
  /**
   * Take the client address from the last hop of `X-Forwarded-For` (the address the proxy in front saw) instead of the
   * socket. Set it only behind a proxy that appends that header (the bundled nginx does), or clients can forge it.
   * Default false.
   */
  trustProxy: boolean;
  /**
   * On SIGTERM, open streams are closed spread over at least this window, then the process exits, ms. The window grows
   * to connections ÷ DRAIN_RATE_PER_S when that is longer. Default 10000.
   */
  shutdownDrainMs: number;
  /**
   * Headers, and the whole body of a request that has one, must arrive within this long, ms; then the connection
   * closes with 408. A stream is not affected once its headers are sent. Default 30000.
   */
  requestTimeoutMs: number;
  /**
   * Port of a separate listener that serves only `GET /metrics`; the main port then answers 404 for it. Unset (the
   * default): `/metrics` is served on the main port. 0 picks a free port (tests).
   */
  metricsPort: number | undefined;
  /** Topics that get their own `sse_topic_subscribers{topic}` series (the N with the most streams); 0 = none. Default 0. */
  metricsTopicsTopN: number;
  /**
   * Most streams closed per second while draining, so the instances that take the clients over see their reconnects
   * arrive at this rate at most. Default 250 (measured: see docs/scaling.md).
   */
  drainRatePerSecond: number;
  /** Kernel accept queue length asked for in listen(2) (capped by net.core.somaxconn). Default 4096 (Node's is 511). */
  listenBacklog: number;
  /**
   * New streams refused (503 `overloaded`, or a `retry:`-only stream for EventSource) while the event loop lags more
   * than this, ms; 0 = never. Default 1000.
   */
  overloadLagMs: number;
  /** Most new streams accepted per second per process; beyond it new streams are refused like overload; 0 = no bound. Default 0. */
  admissionRatePerSecond: number;
  /**
   * Server processes sharing PORT (node:cluster), or `auto` for one per available CPU. Each worker holds its own
   * streams and source connections, so only sources that share state across processes (redis, redis-list, sqs) may run
   * more than one. Container only; Lambda ignores it. Default 1.
   */
  workers: number | 'auto';
}

export function readServerConfig(env: EnvReader): ServerConfig {
  return {
    port: env.integer('PORT', 8080, 0, 65535),
    host: env.string('HOST', '0.0.0.0'),
    source: env.oneOf('SOURCE', SOURCE_MODES, 'memory'),
    demo: env.boolean('DEMO', false),
    logLevel: env.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    heartbeatMs: env.integer('HEARTBEAT_MS', 15_000, 100, 3_600_000),
    retryMs: env.integer('RETRY_MS', 2_000, 0, 3_600_000),
    maxSessionMs: env.integer('MAX_SESSION_MS', 1_800_000, 1_000),
    sessionIdleMs: env.integer('SESSION_IDLE_MS', 0, 0),
    memoryBufferSize: env.integer('MEMORY_BUFFER_SIZE', 1_000, 1, 10_000_000),
    replayMax: env.integer('REPLAY_MAX', 1_000, 0, 1_000_000),
    connectionBufferBytes: env.integer('CONNECTION_BUFFER_BYTES', 1_048_576, 1_024),
    maxBodyBytes: env.integer('MAX_BODY_BYTES', 131_072, 64, 64 * 1_048_576),
    maxMessageBytes: env.integer('MAX_MESSAGE_BYTES', 65_536, 1, 64 * 1_048_576),
    maxTopics: env.integer('MAX_TOPICS', 16, 1, 1_000),
    maxConnections: env.integer('MAX_CONNECTIONS', 10_000, 1),
    maxConnectionsPerClient: env.integer('MAX_CONNECTIONS_PER_CLIENT', 100, 1),
    publishRatePerMinute: env.integer('PUBLISH_RATE_PER_MINUTE', 600, 0),
    trustProxy: env.boolean('TRUST_PROXY', false),
    shutdownDrainMs: env.integer('SHUTDOWN_DRAIN_MS', 10_000, 0, 600_000),
    requestTimeoutMs: env.integer('REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    metricsPort: env.optionalInteger('METRICS_PORT', 0, 65535),
    metricsTopicsTopN: env.integer('METRICS_TOPICS_TOP_N', 0, 0, 100),
    drainRatePerSecond: env.integer('DRAIN_RATE_PER_S', 250, 1, 1_000_000),
    listenBacklog: env.integer('LISTEN_BACKLOG', 4_096, 1, 1_048_576),
    overloadLagMs: env.integer('OVERLOAD_LAG_MS', 1_000, 0, 600_000),
    admissionRatePerSecond: env.integer('ADMISSION_RATE_PER_S', 0, 0, 1_000_000),
    workers: readWorkers(env),
  };
}

/** WORKERS: a whole number from 1 to 256, or `auto` (resolved to the CPUs available where the server starts). */
function readWorkers(env: EnvReader): number | 'auto' {
  const value = env.optionalString('WORKERS');
  if (value === undefined) return 1;
  if (value.toLowerCase() === 'auto') return 'auto';
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 256) throw new ConfigError('WORKERS', 'a whole number from 1 to 256, or auto', value);
  return n;
}
