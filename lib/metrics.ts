/**
 * Counters and gauges in Prometheus text format, without a client library: the hot path increments plain numbers and
 * only `/metrics` builds text.
 */
const DEFINITIONS = {
  sse_connections_open: { type: 'gauge', help: 'Open SSE streams.' },
  sse_connections_total: { type: 'counter', help: 'SSE streams opened since start.' },
  sse_connections_rejected_total: { type: 'counter', help: 'Subscriptions refused by a limit (connections, per client, rate).' },
  sse_events_published_total: { type: 'counter', help: 'Messages accepted by POST /publish.' },
  sse_events_delivered_total: { type: 'counter', help: 'Event frames queued to connections (live and replayed).' },
  sse_bytes_written_total: { type: 'counter', help: 'Bytes written to SSE connections.' },
  sse_slow_consumer_disconnects_total: { type: 'counter', help: 'Streams closed because their outgoing buffer stayed over CONNECTION_BUFFER_BYTES.' },
  sse_replays_total: { type: 'counter', help: 'Streams that resumed from a cursor.' },
  sse_replayed_events_total: { type: 'counter', help: 'Events sent from replay.' },
  sse_resets_total: { type: 'counter', help: 'Reset events sent because a cursor was older than what is retained.' },
  sse_heartbeats_total: { type: 'counter', help: 'Heartbeat rounds (one comment to every open stream).' },
  sse_source_errors_total: { type: 'counter', help: 'Faults of the message source that were retried.' },
  sse_invalid_messages_total: { type: 'counter', help: 'Messages in the source that could not become a frame (skipped or sent as an error event).' },
  sse_http_errors_total: { type: 'counter', help: 'Requests answered with a 4xx or 5xx status.' },
  sse_auth_unauthorized_total: { type: 'counter', help: 'Requests refused with 401: no token, or a bad, expired or malformed one.' },
  sse_auth_forbidden_total: { type: 'counter', help: 'Requests refused with 403: a valid token that does not cover the topic.' },
  sse_publish_rate_limited_total: { type: 'counter', help: 'Publishes refused by PUBLISH_RATE_PER_MINUTE (429).' },
  sse_too_many_topics_total: { type: 'counter', help: 'Subscriptions refused by MAX_TOPICS (400).' },
  sse_oversize_rejected_total: { type: 'counter', help: 'Publishes refused by MAX_BODY_BYTES or MAX_MESSAGE_BYTES (413).' },
} as const satisfies Record<string, { type: 'counter' | 'gauge'; help: string }>;

export type MetricName = keyof typeof DEFINITIONS;

/** A process-wide set of metrics. Values are plain numbers so incrementing costs nothing. */
export class Metrics {
  private readonly values = new Map<MetricName, number>();

  inc(name: MetricName, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  set(name: MetricName, value: number): void {
    this.values.set(name, value);
  }

  get(name: MetricName): number {
    return this.values.get(name) ?? 0;
  }

  /** The Prometheus text exposition of every metric (version 0.0.4). */
  render(): string {
    let out = '';
    for (const [name, def] of Object.entries(DEFINITIONS) as [MetricName, (typeof DEFINITIONS)[MetricName]][]) {
      out += `# HELP ${name} ${def.help}\n# TYPE ${name} ${def.type}\n${name} ${this.get(name)}\n`;
    }
    return out;
  }
}
