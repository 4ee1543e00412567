import { ConfigError } from './config-error.js';
import { COMPRESSION_MODES, SERVER_DEFAULTS as D, SOURCE_MODES, type CompressionMode, type SourceMode } from './defaults.js';
import type { EnvReader } from './env-reader.js';
import { LOG_LEVELS, type LogLevel } from '../logger.js';
import { defaultFor, type Runtime, type Setting } from './setting.js';

/** HTTP server, session and limit settings shared by every runtime. Defaults and one-line meanings: SERVER_DEFAULTS. */
export interface ServerConfig {
  /** TCP port of the container server. */
  port: number;
  /** Address to listen on. */
  host: string;
  /** Where messages come from. */
  source: SourceMode;
  /** Run the built-in demo publisher (and default auth off). */
  demo: boolean;
  /** Log level (lib/logger.ts LOG_LEVELS). */
  logLevel: string;
  /** Interval of the heartbeat comment, ms. */
  heartbeatMs: number;
  /** `retry:` sent first on every stream: how long EventSource waits before reconnecting, ms. */
  retryMs: number;
  /** Longest a stream stays open before it ends with a jittered `retry:` and the client reconnects, ms. */
  maxSessionMs: number;
  /** End a stream after this long without an event (heartbeats do not count), ms; 0 = never. */
  sessionIdleMs: number;
  /** Messages kept per topic by the memory source (its replay window). */
  memoryBufferSize: number;
  /** Bytes the memory source retains across all topics; past it the oldest messages go first. */
  memoryMaxBytes: number;
  /** Most messages replayed on one reconnect, per topic. */
  replayMax: number;
  /** Bytes that may wait for one slow connection before it is cut off (it resumes from its cursor). */
  connectionBufferBytes: number;
  /** Largest `POST /publish` body, bytes. */
  maxBodyBytes: number;
  /** Bytes of request bodies the container holds at once while they arrive, over all connections. */
  maxBodyBytesInFlight: number;
  /** Largest message `data`, bytes of UTF-8. */
  maxMessageBytes: number;
  /** Most topics in one subscription. */
  maxTopics: number;
  /** Most open streams per process; beyond it `/events` answers 503 with Retry-After. */
  maxConnections: number;
  /** Most open streams per client address; beyond it 429. */
  maxConnectionsPerClient: number;
  /** Publishes per minute allowed per token (or per client address without auth); 0 = unlimited. */
  publishRatePerMinute: number;
  /** Ids per minute per token (or client address) that POST /ack sent to the source and that removed nothing; 0 = no bound. */
  ackMissesPerMinute: number;
  /**
   * Take the client address from the last hop of `X-Forwarded-For` (the address the proxy in front saw) instead of the
   * socket. Set it only behind a proxy that appends that header (the bundled nginx does), or clients can forge it.
   */
  trustProxy: boolean;
  /**
   * On SIGTERM, open streams are closed spread over at least this window, then the process exits, ms. The window grows
   * to connections ÷ DRAIN_RATE_PER_S when that is longer.
   */
  shutdownDrainMs: number;
  /**
   * Headers, and the whole body of a request that has one, must arrive within this long, ms; then the connection
   * closes with 408. A stream is not affected once its headers are sent.
   */
  requestTimeoutMs: number;
  /**
   * Port of a separate listener that serves only `GET /metrics`; the main port then answers 404 for it. Unset (the
   * default): `/metrics` is served on the main port. 0 picks a free port (tests).
   */
  metricsPort: number | undefined;
  /** Topics that get their own `sse_topic_subscribers{topic}` series (the N with the most streams); 0 = none. */
  metricsTopicsTopN: number;
  /**
   * Most streams closed per second while draining, so the instances that take the clients over see their reconnects
   * arrive at this rate at most.
   */
  drainRatePerSecond: number;
  /** Kernel accept queue length asked for in listen(2) (capped by net.core.somaxconn). */
  listenBacklog: number;
  /**
   * New streams refused (503 `overloaded`, or a `retry:`-only stream for EventSource) while the event loop lags more
   * than this, ms; 0 = never.
   */
  overloadLagMs: number;
  /** Most new streams accepted per second per process; beyond it new streams are refused like overload; 0 = no bound. */
  admissionRatePerSecond: number;
  /**
   * Memory in use (V8's heap in use plus Buffers) above which new streams are refused and the largest backlogs cut;
   * `auto` is resolved where the server starts, from the container's memory limit; 0 = never. Container only.
   */
  overloadMemoryBytes: number | 'auto';
  /**
   * Server processes sharing PORT (node:cluster), or `auto` for one per available CPU. Each worker holds its own
   * streams and source connections, so only sources that share state across processes (redis, redis-list, sqs) may run
   * more than one. Container only; Lambda ignores it.
   */
  workers: number | 'auto';
  /**
   * `gzip`: streams go out gzip-encoded to clients that accept it (`Accept-Encoding`), each shared frame compressed
   * once for all its streams. Container only (a Lambda function URL undoes it). Off unless asked: a proxy in front may
   * compress, and compressing twice costs CPU for nothing.
   */
  compression: CompressionMode;
}

/** @param runtime `lambda` takes the Lambda defaults of SERVER_DEFAULTS (SESSION_IDLE_MS, MAX_SESSION_MS). */
export function readServerConfig(env: EnvReader, runtime: Runtime = 'container'): ServerConfig {
  const d = <T>(entry: Setting<T>): T => defaultFor(entry, runtime);
  return {
    port: env.integer('PORT', d(D.PORT), 0, 65535),
    host: env.string('HOST', d(D.HOST)),
    source: env.oneOf('SOURCE', SOURCE_MODES, d(D.SOURCE)),
    demo: env.boolean('DEMO', d(D.DEMO)),
    logLevel: env.oneOf('LOG_LEVEL', Object.keys(LOG_LEVELS) as LogLevel[], d(D.LOG_LEVEL)),
    heartbeatMs: env.integer('HEARTBEAT_MS', d(D.HEARTBEAT_MS), 100, 3_600_000),
    retryMs: env.integer('RETRY_MS', d(D.RETRY_MS), 0, 3_600_000),
    maxSessionMs: env.integer('MAX_SESSION_MS', d(D.MAX_SESSION_MS), 1_000),
    sessionIdleMs: env.integer('SESSION_IDLE_MS', d(D.SESSION_IDLE_MS), 0),
    memoryBufferSize: env.integer('MEMORY_BUFFER_SIZE', d(D.MEMORY_BUFFER_SIZE), 1, 10_000_000),
    memoryMaxBytes: env.integer('MEMORY_MAX_BYTES', d(D.MEMORY_MAX_BYTES), 1_048_576),
    replayMax: env.integer('REPLAY_MAX', d(D.REPLAY_MAX), 0, 1_000_000),
    connectionBufferBytes: env.integer('CONNECTION_BUFFER_BYTES', d(D.CONNECTION_BUFFER_BYTES), 1_024),
    maxBodyBytes: env.integer('MAX_BODY_BYTES', d(D.MAX_BODY_BYTES), 64, 64 * 1_048_576),
    maxBodyBytesInFlight: env.integer('MAX_BODY_BYTES_IN_FLIGHT', d(D.MAX_BODY_BYTES_IN_FLIGHT), 1_024),
    maxMessageBytes: env.integer('MAX_MESSAGE_BYTES', d(D.MAX_MESSAGE_BYTES), 1, 64 * 1_048_576),
    maxTopics: env.integer('MAX_TOPICS', d(D.MAX_TOPICS), 1, 1_000),
    maxConnections: env.integer('MAX_CONNECTIONS', d(D.MAX_CONNECTIONS), 1),
    maxConnectionsPerClient: env.integer('MAX_CONNECTIONS_PER_CLIENT', d(D.MAX_CONNECTIONS_PER_CLIENT), 1),
    publishRatePerMinute: env.integer('PUBLISH_RATE_PER_MINUTE', d(D.PUBLISH_RATE_PER_MINUTE), 0),
    ackMissesPerMinute: env.integer('ACK_MISSES_PER_MINUTE', d(D.ACK_MISSES_PER_MINUTE), 0),
    trustProxy: env.boolean('TRUST_PROXY', d(D.TRUST_PROXY)),
    shutdownDrainMs: env.integer('SHUTDOWN_DRAIN_MS', d(D.SHUTDOWN_DRAIN_MS), 0, 600_000),
    requestTimeoutMs: env.integer('REQUEST_TIMEOUT_MS', d(D.REQUEST_TIMEOUT_MS), 100, 600_000),
    metricsPort: env.optionalInteger('METRICS_PORT', 0, 65535),
    metricsTopicsTopN: env.integer('METRICS_TOPICS_TOP_N', d(D.METRICS_TOPICS_TOP_N), 0, 100),
    drainRatePerSecond: env.integer('DRAIN_RATE_PER_S', d(D.DRAIN_RATE_PER_S), 1, 1_000_000),
    listenBacklog: env.integer('LISTEN_BACKLOG', d(D.LISTEN_BACKLOG), 1, 1_048_576),
    overloadLagMs: env.integer('OVERLOAD_LAG_MS', d(D.OVERLOAD_LAG_MS), 0, 600_000),
    admissionRatePerSecond: env.integer('ADMISSION_RATE_PER_S', d(D.ADMISSION_RATE_PER_S), 0, 1_000_000),
    overloadMemoryBytes: readOverloadMemory(env, d(D.OVERLOAD_MEMORY_BYTES)),
    workers: readWorkers(env, d(D.WORKERS)),
    compression: env.oneOf('COMPRESSION', COMPRESSION_MODES, d(D.COMPRESSION)),
  };
}

// Below this a process would be over its limit from the start and refuse every stream.
const MIN_OVERLOAD_MEMORY_BYTES = 16 * 1_048_576;

/** OVERLOAD_MEMORY_BYTES: `auto`, 0 (never), or a number of bytes of at least 16 MiB. */
function readOverloadMemory(env: EnvReader, fallback: number | 'auto'): number | 'auto' {
  const value = env.optionalString('OVERLOAD_MEMORY_BYTES');
  if (value === undefined) return fallback;
  if (value.toLowerCase() === 'auto') return 'auto';
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || (n !== 0 && n < MIN_OVERLOAD_MEMORY_BYTES)) {
    throw new ConfigError('OVERLOAD_MEMORY_BYTES', `auto, 0 (never), or a number of bytes of at least ${MIN_OVERLOAD_MEMORY_BYTES} (16 MiB; a server uses about 10 MiB idle)`, value);
  }
  return n;
}

/** WORKERS: a whole number from 1 to 256, or `auto` (resolved to the CPUs available where the server starts). */
function readWorkers(env: EnvReader, fallback: number): number | 'auto' {
  const value = env.optionalString('WORKERS');
  if (value === undefined) return fallback;
  if (value.toLowerCase() === 'auto') return 'auto';
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 256) throw new ConfigError('WORKERS', 'a whole number from 1 to 256, or auto', value);
  return n;
}
