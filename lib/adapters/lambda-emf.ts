import { DEFINITIONS, type CellName, type MetricName, type Metrics } from '../metrics.js';

/**
 * Counters sent to CloudWatch as the change since the last line (a sum over invocations is then meaningful): every
 * counter the relay defines, since on Lambda these lines are its only metrics, and the refusal kinds that have names
 * (each a sum of sse_http_errors_total's codes; EMF has no labels).
 */
export const EMF_COUNTERS: readonly MetricName[] = [
  ...(Object.keys(DEFINITIONS) as CellName[]).filter((name) => DEFINITIONS[name].type === 'counter'),
  'sse_http_errors_total', 'sse_connections_rejected_total', 'sse_auth_unauthorized_total', 'sse_auth_forbidden_total',
  'sse_publish_rate_limited_total', 'sse_oversize_rejected_total',
];
/** Gauges sent as their current value. */
export const EMF_GAUGES: readonly MetricName[] = ['sse_connections_open'];

export interface EmfOptions {
  /** CloudWatch namespace. Default `sse-relay`. */
  namespace?: string;
  /** Dimension values of every line, e.g. `{ FunctionName: 'sse-relay-prod-stream' }`. */
  dimensions: Record<string, string>;
  /** Writes one line (stdout on Lambda, where the log agent turns EMF lines into metrics). */
  write: (line: string) => void;
}

/**
 * Turns the process's Metrics into CloudWatch embedded metric format lines. On Lambda `/metrics` means nothing (each
 * sandbox counts alone, and a scrape reaches a random one), so the counts leave as log lines that CloudWatch aggregates
 * across sandboxes. A line is written only when a counter moved.
 */
export class EmfEmitter {
  private readonly last = new Map<MetricName, number>();

  constructor(private readonly metrics: Metrics, private readonly options: EmfOptions) {}

  /** Writes one EMF line with each counter's change since the previous line and each gauge's value. */
  flush(now = Date.now()): void {
    const values: Record<string, number> = {};
    let moved = false;
    for (const name of EMF_COUNTERS) {
      const value = this.metrics.get(name);
      const delta = value - (this.last.get(name) ?? 0);
      this.last.set(name, value);
      values[name] = delta;
      if (delta !== 0) moved = true;
    }
    if (!moved) return;
    for (const name of EMF_GAUGES) values[name] = this.metrics.get(name);
    this.options.write(JSON.stringify(emfLine(this.options, values, now)));
  }
}

function emfLine(options: EmfOptions, values: Record<string, number>, now: number): object {
  const metrics = Object.keys(values).map((name) => ({ Name: name, Unit: name === 'sse_bytes_written_total' ? 'Bytes' : 'Count' }));
  return {
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [{ Namespace: options.namespace ?? 'sse-relay', Dimensions: [Object.keys(options.dimensions)], Metrics: metrics }],
    },
    ...options.dimensions,
    ...values,
  };
}
