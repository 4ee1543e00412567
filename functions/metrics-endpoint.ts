import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { refuseConnect } from '../lib/adapters/node.js';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { prometheusRegistry, type ScrapeProbe } from '../lib/adapters/prometheus.js';
import type { Config } from '../lib/config/index.js';
import type { Metrics } from '../lib/metrics.js';
import { errorBodyOf } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { listenOn } from './listen.js';
import type { Source, SourceMemory } from '../lib/source.js';

/** The Prometheus registry of the container: every relay metric, process metrics, and source probes. */
export function buildRegistry(config: Config, metrics: Metrics, source: Source): Registry {
  return prometheusRegistry(metrics, { source: config.server.source, topicsTopN: config.server.metricsTopicsTopN, probes: sourceProbes(source) });
}

/** Readiness of the source, and Redis memory where the source can report it, read at scrape time. */
function sourceProbes(source: Source): ScrapeProbe[] {
  const probes: ScrapeProbe[] = [{
    name: 'sse_source_up', help: 'Whether the message source answered its readiness check at scrape time (1) or not (0).',
    read: async () => ((await source.isReady().catch(() => false)) ? 1 : 0), aggregator: 'min',
  }];
  if (source.memoryUsage !== undefined) {
    // One INFO round trip per scrape for the four gauges below, not one each: prom-client collects them together, so
    // they share the reading in flight (a later scrape reads again).
    let pending: Promise<SourceMemory | undefined> | undefined;
    const usage = (): Promise<SourceMemory | undefined> => {
      pending ??= (source.memoryUsage?.() ?? Promise.resolve(undefined)).finally(() => (pending = undefined));
      return pending;
    };
    probes.push(
      { name: 'sse_redis_used_memory_bytes', help: 'Redis INFO used_memory at scrape time.', read: async () => (await usage())?.usedBytes, aggregator: 'max' },
      { name: 'sse_redis_maxmemory_bytes', help: 'Redis maxmemory at scrape time (0 = no limit).', read: async () => (await usage())?.maxBytes, aggregator: 'max' },
      {
        name: 'sse_redis_may_evict',
        help: 'Whether Redis drops keys at maxmemory (1: a maxmemory-policy other than noeviction) instead of refusing writes; acknowledged messages can then vanish.',
        read: async () => { const mayEvict = (await usage())?.mayEvict; return mayEvict === undefined ? undefined : Number(mayEvict); },
        aggregator: 'max',
      },
      { name: 'sse_redis_evicted_keys', help: 'Redis INFO evicted_keys at scrape time: keys Redis dropped to stay under maxmemory since it started.', read: async () => (await usage())?.evictedKeys, aggregator: 'max' },
    );
  }
  return probes;
}

/**
 * A listener that answers only `GET /metrics` (METRICS_PORT), so the main port, the Service and the Ingress never
 * expose it. Everything else is 404.
 */
export async function startMetricsListener(render: Exposition, port: number, host: string, requestTimeoutMs: number, logger?: Logger): Promise<Server> {
  // The same deadlines as the main port (REQUEST_TIMEOUT_MS): a scraper that never finishes its request holds nothing.
  const deadlines = { requestTimeout: requestTimeoutMs, headersTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(5_000, requestTimeoutMs / 4) };
  const server = createServer(deadlines, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(errorBodyOf('not_found')));
      return;
    }
    render().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
      () => res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(errorBodyOf('internal'))),
    );
  });
  server.on('connect', (_request, socket: Duplex) => refuseConnect(socket, undefined));
  await listenOn(server, { port, host, variable: 'METRICS_PORT' }, logger);
  return server;
}

/** A metrics text and its content type, rendered at scrape time. */
export type Exposition = () => Promise<{ contentType: string; body: string }>;

/**
 * WORKERS > 1, in a worker: answer the primary's metrics requests with this registry (prom-client's cluster protocol
 * over the IPC channel). Called before the worker listens, so every worker the primary asks can answer.
 */
export function shareMetricsWithPrimary(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
}

/**
 * WORKERS > 1, in the primary: every live worker's metrics combined (counters, histograms and open streams summed,
 * `sse_source_up` the minimum, Redis memory the maximum; prom-client's own rules for process metrics), then `extra`
 * (the primary's own lines). A worker that does not answer within 5 s fails the scrape (500) rather than undercount.
 */
export function clusterExposition(extra: () => string): Exposition {
  const aggregator = new AggregatorRegistry();
  return async () => ({ contentType: aggregator.contentType, body: `${await aggregator.clusterMetrics()}${extra()}` });
}
