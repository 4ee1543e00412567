import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { Histogram } from '../histogram.js';
import { DEFINITIONS, HISTOGRAMS, LABELLED, type CellName, type HistogramName, type LabelledName, type Metrics } from '../metrics.js';

export interface PrometheusOptions {
  /** SOURCE, as the `source` label of source metrics. */
  source: string;
  /** How many topics get their own sse_topic_subscribers series (METRICS_TOPICS_TOP_N); 0 = none. */
  topicsTopN: number;
  /** Extra gauges read at scrape time (Redis memory, readiness), added by the composition root. */
  probes?: readonly ScrapeProbe[];
}

/** A gauge whose value is read when Prometheus scrapes (a Redis INFO call, a readiness check). */
export interface ScrapeProbe {
  name: string;
  help: string;
  /**
   * The value now; undefined (the backend did not answer) exports NaN, "unknown": an unlabelled prom-client gauge
   * always has a sample, and its reset value 0 read as "no maxmemory" and "0 bytes used" during every Redis outage.
   */
  read(): Promise<number | undefined>;
  /**
   * How several workers' values combine (WORKERS > 1, prom-client's AggregatorRegistry): `min` for "is it up", `max`
   * for a figure every worker reads from the same backend. Default `sum`.
   */
  aggregator?: 'sum' | 'min' | 'max';
}

/**
 * A prom-client registry that exposes `metrics`: every counter and gauge of lib/metrics.ts (read from its plain numbers
 * in collect(), so updating them stays an add), the labelled counters, the histograms, per-topic subscribers (top N),
 * Node's default process metrics and event-loop lag.
 */
export function prometheusRegistry(metrics: Metrics, options: PrometheusOptions): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  for (const [name, def] of Object.entries(DEFINITIONS) as [CellName, (typeof DEFINITIONS)[CellName]][]) {
    const labels = 'source' in def ? { source: options.source } : {};
    const labelNames = Object.keys(labels);
    if (def.type === 'gauge') {
      new Gauge({ name, help: def.help, labelNames, registers: [registry], collect() { this.set(labels, metrics.get(name)); } });
    } else {
      new Counter({ name, help: def.help, labelNames, registers: [registry], collect() { this.reset(); this.inc(labels, metrics.get(name)); } });
    }
  }
  for (const [name, def] of Object.entries(LABELLED) as [LabelledName, (typeof LABELLED)[LabelledName]][]) {
    new Counter({
      name, help: def.help, labelNames: [...def.labels], registers: [registry],
      collect() {
        this.reset();
        for (const { labels, value } of metrics.labelledValues(name)) this.inc(labels, value);
      },
    });
  }
  for (const name of Object.keys(HISTOGRAMS) as HistogramName[]) registry.registerMetric(histogramMetric(name, metrics.histogram(name)));
  registerTopicGauges(registry, metrics, options.topicsTopN);
  for (const probe of options.probes ?? []) registerProbe(registry, probe);
  return registry;
}

// Only with METRICS_TOPICS_TOP_N: otherwise streams keep no topic list for metrics (memory per idle stream).
function registerTopicGauges(registry: Registry, metrics: Metrics, topN: number): void {
  if (topN <= 0) return;
  new Gauge({ name: 'sse_topics_active', help: 'Topics with at least one open stream in this process (with METRICS_TOPICS_TOP_N).', registers: [registry], collect() { this.set(metrics.activeTopics); } });
  new Gauge({
    name: 'sse_topic_subscribers', help: `Open streams per topic, for the ${topN} topics with the most (METRICS_TOPICS_TOP_N).`,
    labelNames: ['topic'], registers: [registry],
    collect() {
      this.reset();
      for (const [topic, streams] of metrics.topTopics(topN)) this.set({ topic }, streams);
    },
  });
}

function registerProbe(registry: Registry, probe: ScrapeProbe): void {
  new Gauge({
    name: probe.name, help: probe.help, registers: [registry], aggregator: probe.aggregator ?? 'sum',
    async collect() {
      const value = await probe.read();
      this.set(value ?? Number.NaN);
    },
  });
}

/**
 * A histogram kept by lib/histogram.ts, in the shape prom-client's registry renders (it calls `get()` at scrape
 * time). prom-client's own Histogram cannot take counts kept elsewhere, and the core must not depend on prom-client.
 */
function histogramMetric(name: HistogramName, histogram: Histogram): Metric {
  const collector = {
    name, help: HISTOGRAMS[name].help, type: 'histogram', aggregator: 'sum',
    get: async () => {
      const cumulative = histogram.cumulative();
      const values = histogram.bounds.map((le, i) => ({ metricName: `${name}_bucket`, labels: { le }, value: cumulative[i] ?? 0 }));
      values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' as unknown as number }, value: histogram.count });
      return {
        name, help: HISTOGRAMS[name].help, type: 'histogram', aggregator: 'sum',
        values: [...values, { metricName: `${name}_sum`, labels: {}, value: histogram.sum }, { metricName: `${name}_count`, labels: {}, value: histogram.count }],
      };
    },
    reset: () => undefined,
  };
  return collector as unknown as Metric;
}

/** The registry's text exposition and its content type, as RelayApp's `metricsExposition` wants them. */
export function exposition(registry: Registry): () => Promise<{ contentType: string; body: string }> {
  return async () => ({ contentType: registry.contentType, body: await registry.metrics() });
}
