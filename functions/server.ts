import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { answerClientError, continueOnRead, nodeListener, refuseConnect } from '../lib/adapters/node.js';
import { fdLogDestination } from '../lib/adapters/fd-log-destination.js';
import { socketHandoffEnabled } from '../lib/adapters/http-socket-handoff.js';
import { AdmissionGate } from '../lib/limits/admission-gate.js';
import { CorsPolicy } from '../lib/http/cors.js';
import { ConfigError, loadConfig, SERVER_DEFAULTS, type Config } from '../lib/config/index.js';
import { drainWindowMs } from '../lib/engine/drain-pace.js';
import { EventLoopLag } from '../lib/limits/event-loop-lag.js';
import { startDemoPublisher } from '../lib/demo/demo-publisher.js';
import type { Logger } from '../lib/logger.js';
import { Metrics } from '../lib/metrics.js';
import { MAX_TOKEN_LENGTH } from '../lib/auth/token.js';
import { MAX_CURSOR_LENGTH } from '../lib/sse/cursor.js';
import { RelayApp } from '../lib/http/relay-app.js';
import { buildAuthorizer } from './build-authorizer.js';
import { buildSource } from './build-source.js';
import { buildRegistry, shareMetricsWithPrimary, startMetricsListener } from './metrics-endpoint.js';
import { exposition } from '../lib/adapters/prometheus.js';
import { listenOn } from './listen.js';
import { loadAssets } from './load-assets.js';
import { createLogger } from './logger.js';
import { watchMemory } from './memory-limit.js';
import type { MemoryPressure } from '../lib/limits/memory-pressure.js';
import { loadWithSecrets } from './resolve-secrets.js';
import { startPrimary, workerCount } from './worker-pool.js';

/** A running container server. */
export interface RunningServer {
  app: RelayApp;
  server: Server;
  port: number;
  /** Port of the METRICS_PORT listener, when there is one. */
  metricsPort: number | undefined;
  /** Drains and stops: readiness fails, streams close at DRAIN_RATE_PER_S over at least SHUTDOWN_DRAIN_MS, the source closes. */
  stop(): Promise<void>;
}


/**
 * How long after its drain window a draining process exits whatever happens: a loaded process runs its drain timers late.
 * terminationGracePeriodSeconds must cover preStop + window + this (docs/deploy-kubernetes.md).
 */
export const EXIT_MARGIN_MS = 5_000;

/**
 * The most request-line and header bytes the server reads (32 KiB): the longest token and the longest Last-Event-ID
 * the relay accepts, plus Node's own default of 16 KiB for the request line, cookies and the rest. With Node's default
 * alone, a reconnect carrying both at their longest was refused (431) before the relay saw it. Past this: 431.
 */
export const MAX_REQUEST_HEAD_BYTES = MAX_TOKEN_LENGTH + MAX_CURSOR_LENGTH + 16 * 1024;

/** How a server process runs: alone (the default), or as one of WORKERS under a primary. */
export interface ServerRole {
  /** A worker: its metrics go to the primary, which alone listens on METRICS_PORT. Default false. */
  clusterWorker?: boolean;
}

/** Builds and starts the server from a configuration (tests call this; `main` adds the process wiring). */
export async function startServer(config: Config, logger: Logger, role: ServerRole = {}): Promise<RunningServer> {
  const metrics = new Metrics();
  const source = await buildSource(config, { logger, metrics });
  const registry = buildRegistry(config, metrics, source);
  if (role.clusterWorker === true) shareMetricsWithPrimary(registry);
  const separateMetrics = config.server.metricsPort !== undefined;
  const lag = new EventLoopLag();
  // Watched once the app (and its hub, which sheds) exists; the gate asks it from the first stream on.
  const memory: { pressure?: MemoryPressure | undefined } = {};
  const admission = new AdmissionGate({
    lagMs: config.server.overloadLagMs, ratePerSecond: config.server.admissionRatePerSecond, currentLagMs: () => lag.ms,
    memoryRefusal: () => memory.pressure?.refusal(),
  });
  const app = new RelayApp({
    config: config.server, queue: config.queue, source, logger, metrics, authorizer: await buildAuthorizer(config, logger),
    cors: new CorsPolicy(config.auth.corsOrigins), assets: await loadAssets(publicDir()), admission,
    metricsExposition: separateMetrics ? undefined : exposition(registry),
  });
  memory.pressure = watchMemory(config.server.overloadMemoryBytes, workerCount(config.server.workers), app.hub, metrics, logger);
  const ownMetricsPort = role.clusterWorker === true ? undefined : config.server.metricsPort;
  const metricsServer = ownMetricsPort === undefined ? undefined : await startMetricsListener(exposition(registry), ownMetricsPort, config.server.host, config.server.requestTimeoutMs, logger);
  const metricsAddress = metricsServer?.address();
  const stopDemo = config.server.demo ? startDemoPublisher(source, logger) : () => undefined;
  const { requestTimeoutMs } = config.server;
  const listener = nodeListener(app, {
    trustProxy: config.server.trustProxy,
    onStreamEnd: (seconds, clientClosed) => metrics.streamEnded(seconds, clientClosed ? 'client_closed' : 'server_closed'),
    socketHandoff: socketHandoffEnabled(logger),
    answerTimeoutMs: requestTimeoutMs,
    bodyBytesInFlight: config.server.maxBodyBytesInFlight,
  });
  const server = createServer(
    // Node checks request deadlines on this interval; a quarter of the bound keeps the overshoot small.
    // requireHostHeader off: a request without Host is refused by the adapter, with a JSON body and a log line.
    {
      requestTimeout: requestTimeoutMs, headersTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(5_000, requestTimeoutMs / 4), requireHostHeader: false,
      maxHeaderSize: MAX_REQUEST_HEAD_BYTES,
    },
    listener,
  );
  continueOnRead(server, listener);
  // Every byte has a deadline: headers and bodies within REQUEST_TIMEOUT_MS (Node answers 408 and closes). A stream's
  // request is complete once its headers arrived, so the deadline never cuts a stream. Idle keep-alive sockets close
  // after 65 s (above most load balancers' 60 s).
  server.keepAliveTimeout = 65_000;
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket, logger));
  server.on('connect', (_request, socket: Duplex) => refuseConnect(socket, logger));
  // An explicit accept queue: Node's default of 511 overflows when a drained pod's clients all arrive (issue #19).
  await listenOn(server, { port: config.server.port, host: config.server.host, backlog: config.server.listenBacklog, variable: 'PORT' }, logger);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const stop = async (): Promise<void> => {
    stopDemo();
    // shutdown() marks the app draining at once; the listener stays open meanwhile, so probes see /readyz fail and new
    // streams get a clear 503. The window is the larger of SHUTDOWN_DRAIN_MS and connections ÷ DRAIN_RATE_PER_S, as
    // documented and as the grace period is sized (it was 80 % of SHUTDOWN_DRAIN_MS: reconnects came a quarter faster).
    await app.shutdown({ minimumMs: config.server.shutdownDrainMs, ratePerSecond: config.server.drainRatePerSecond });
    server.close();
    server.closeAllConnections();
    // Scrapes go on while streams drain; the metrics listener closes last.
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    await source.close();
    lag.stop();
    memory.pressure?.stop();
  };
  return { app, server, port, metricsPort: typeof metricsAddress === 'object' && metricsAddress !== null ? metricsAddress.port : undefined, stop };
}

// Running from dist/functions/ or (in tests) from functions/, public/ is at the repository root.
function publicDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/') ? here.replace(/\/dist\/functions\/?$/, '/public') : here.replace(/\/functions\/?$/, '/public');
}

/** Runs the container server as a process (signals, exit codes): `node dist/functions/server.js` and `sse-relay serve`. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    // AUTH_JWT_SECRET_FROM, REDIS_URL_FROM, REDIS_PASSWORD_FROM (SSM, Secrets Manager) are read once, here.
    config = await loadWithSecrets(env, (resolved) => loadConfig(resolved));
  } catch (error) {
    exitOnConfigError(error);
  }
  const workers = workerCount(config.server.workers);
  if (workers > 1 && cluster.isPrimary) {
    await startPrimary(config, createLogger(config.server.logLevel).child({ role: 'primary' }), workers);
    return;
  }
  const logger = cluster.isWorker ? createLogger(config.server.logLevel).child({ worker: cluster.worker?.id }) : createLogger(config.server.logLevel);
  // A port or host this process cannot have is a configuration error too (listen.ts), told the same way.
  const running = await startServer(config, logger, { clusterWorker: cluster.isWorker }).catch(exitOnConfigError);
  const url = `http://localhost:${running.port}/`;
  logger.info({ port: running.port, source: config.server.source, auth: config.auth.mode }, `sse-relay listening on ${url}`);
  if (config.server.demo) logger.warn({}, `demo mode: auth is ${config.auth.mode === 'none' ? 'OFF' : 'on'}, sample events on topic "demo"; open ${url}`);
  let stopping = false;
  let interrupts = 0;
  const onSignal = (signal: string): void => {
    // A second Ctrl-C is a person who will not wait for the drain: the process ends at once, as 130 (128 + SIGINT)
    // says. Only a second SIGINT: a repeated SIGTERM (an orchestrator, or a cluster primary passing on the first
    // Ctrl-C) lets the drain go on.
    if (signal === 'SIGINT' && ++interrupts === 2) {
      logger.warn({ signal, connections: running.app.hub.connections.size }, 'second SIGINT: exiting without finishing the drain');
      process.exit(130);
    }
    if (stopping) return;
    stopping = true;
    const pace = { minimumMs: config.server.shutdownDrainMs, ratePerSecond: config.server.drainRatePerSecond };
    const windowMs = drainWindowMs(running.app.hub.connections.size, pace);
    logger.info({ signal }, signal === 'SIGINT' ? 'draining; Ctrl-C again to exit at once' : 'draining');
    // Whatever happens, the process is gone EXIT_MARGIN_MS after its drain window (the grace period covers the largest).
    setTimeout(() => process.exit(1), windowMs + EXIT_MARGIN_MS).unref();
    running.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

/** Ends the start of the process with the message of a ConfigError (naming the variable and the fix); rethrows others. */
function exitOnConfigError(error: unknown): never {
  if (!(error instanceof ConfigError)) throw error;
  bootLogger().error({ variable: error.variable }, `sse-relay: configuration error: ${error.message}`);
  process.exit(1);
}

/**
 * The log of a start that failed before the configuration (and so LOG_LEVEL) was known: the default level, with the
 * same redaction as every other line, so the container has one error path. Written to stderr synchronously, since the
 * process exits right after.
 */
function bootLogger(): ReturnType<typeof createLogger> {
  return createLogger(SERVER_DEFAULTS.LOG_LEVEL.value, fdLogDestination(2));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    bootLogger().error({ err: error }, 'sse-relay failed to start');
    process.exit(1);
  });
}
