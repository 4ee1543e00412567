import { Histogram } from './histogram.js';

/**
 * Process-wide metrics as plain numbers. The hot path only adds to a number; exposition (prom-client, in
 * lib/adapters/prometheus.ts, or CloudWatch EMF on Lambda) reads the numbers when it is asked.
 *
 * Counters and gauges without labels: `inc(name, by?)`, `set(name, value)`, `get(name)`. `source: true` marks series
 * that Prometheus labels with the configured SOURCE. Add a new name here; exposition picks it up by itself.
 */
export const DEFINITIONS = {
  sse_connections_open: { type: 'gauge', help: 'Open SSE streams.' },
  sse_connections_total: { type: 'counter', help: 'SSE streams opened since start.' },
  sse_connection_slots_held: { type: 'gauge', help: 'Slots held against MAX_CONNECTIONS: open streams and streams being opened. A refused stream gives its slot back, so this returns to sse_connections_open.' },
  sse_connection_slot_clients: { type: 'gauge', help: 'Client addresses (an IPv6 client is its /64) holding at least one slot against MAX_CONNECTIONS_PER_CLIENT.' },
  sse_events_published_total: { type: 'counter', help: 'Messages accepted by POST /publish.' },
  sse_events_delivered_total: { type: 'counter', help: 'Event frames queued to connections (live and replayed).' },
  sse_bytes_written_total: { type: 'counter', help: 'Bytes written to SSE connections.' },
  sse_slow_consumer_disconnects_total: { type: 'counter', help: 'Streams closed because their outgoing buffer stayed over CONNECTION_BUFFER_BYTES, or was among the largest while memory was over OVERLOAD_MEMORY_BYTES.' },
  sse_memory_shed_streams_total: { type: 'counter', help: 'Streams cut, largest backlog first, while memory in use was over OVERLOAD_MEMORY_BYTES (also counted in sse_slow_consumer_disconnects_total).' },
  sse_memory_over_limit: { type: 'gauge', help: '1 while memory in use (V8 heap in use plus Buffers) is over OVERLOAD_MEMORY_BYTES: new streams are refused (overloaded) and the largest backlogs cut.' },
  sse_replays_total: { type: 'counter', help: 'Streams that resumed from a cursor.' },
  sse_replays_from_memory_total: { type: 'counter', help: 'Topic replays served from the messages the process holds, without a source read.' },
  sse_replayed_events_total: { type: 'counter', help: 'Events sent from replay.' },
  sse_resets_total: { type: 'counter', help: 'Reset events sent because a cursor was older than what is retained.' },
  sse_heartbeats_total: { type: 'counter', help: 'Heartbeat rounds (one comment to every open stream, spread over the period).' },
  sse_source_errors_total: { type: 'counter', help: 'Faults of the message source that were retried.', source: true },
  sse_invalid_messages_total: { type: 'counter', help: 'Messages in the source that could not become a frame: skipped and logged (SQS leaves them for its dead-letter queue).', source: true },
  sse_redis_oom_errors_total: { type: 'counter', help: 'Writes Redis refused with OOM (maxmemory reached under noeviction); each publish answered 503 source_full.', source: true },
  sse_queue_acks_total: { type: 'counter', help: 'Queue messages acknowledged through POST /ack (QUEUE_ACK=client).' },
  sse_queue_ack_misses_total: { type: 'counter', help: 'Ids in POST /ack that the source was asked to remove and that removed nothing (made up, or acknowledged or released already); ACK_MISSES_PER_MINUTE bounds them per token.' },
  sse_queue_ack_timeouts_total: { type: 'counter', help: 'Queue streams ended because a message stayed unacknowledged for QUEUE_ACK_TIMEOUT_MS.' },
} as const satisfies Record<string, { type: 'counter' | 'gauge'; help: string; source?: boolean }>;

/** Counters with labels whose values come from a small fixed set (error codes, routes, end reasons). */
export const LABELLED = {
  sse_http_errors_total: { help: 'Requests answered with a 4xx or 5xx status, by error code and route.', labels: ['code', 'route'] },
  sse_stream_ends_total: { help: 'SSE streams that ended, by who ended them (client_closed: the client went away; server_closed: sse-relay ended it).', labels: ['reason'] },
} as const satisfies Record<string, { help: string; labels: readonly string[] }>;

/** Histograms, bounds in seconds. */
export const HISTOGRAMS = {
  sse_delivery_latency_seconds: {
    help: 'Time from publish (the source\'s timestamp of the message) to its frames being written to this process\'s streams.',
    bounds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  },
  sse_stream_duration_seconds: { help: 'How long SSE streams stayed open.', bounds: [1, 5, 15, 60, 300, 900, 1800, 3600, 14400] },
} as const satisfies Record<string, { help: string; bounds: readonly number[] }>;

/**
 * Names that were separate counters before the rejections got a `code` label; still valid for `inc` and `get`.
 * `get` sums sse_http_errors_total over the codes (and route) listed.
 */
const REJECTION_VIEWS = {
  sse_http_errors_total: { codes: [], route: undefined },
  sse_auth_unauthorized_total: { codes: ['unauthorized'], route: undefined },
  sse_auth_forbidden_total: { codes: ['forbidden'], route: undefined },
  sse_too_many_topics_total: { codes: ['too_many_topics'], route: 'events' },
  sse_oversize_rejected_total: { codes: ['body_too_large', 'message_too_large'], route: 'publish' },
  sse_connections_rejected_total: { codes: ['too_many_connections', 'rate_limited'], route: 'events' },
  sse_publish_rate_limited_total: { codes: ['rate_limited'], route: 'publish' },
  sse_overload_rejected_total: { codes: ['overloaded'], route: 'events' },
} as const satisfies Record<string, { codes: readonly string[]; route: string | undefined }>;

export type CellName = keyof typeof DEFINITIONS;
export type MetricName = CellName | keyof typeof REJECTION_VIEWS;
export type LabelledName = keyof typeof LABELLED;
export type HistogramName = keyof typeof HISTOGRAMS;
/** One series of a labelled counter: its label values and its count. */
export interface LabelledValue { labels: Readonly<Record<string, string>>; value: number }

// The hub reports every write pass with this counter; messages handed to the hub before it reached the sockets then.
const WRITE_PASS_METRIC: MetricName = 'sse_bytes_written_total';
// Bounds the publish times waiting for a write pass (a burst beyond it is sampled, not queued).
const MAX_PENDING_WRITES = 4_096;

/** A process-wide set of metrics. Every value is a plain number, so updating one costs an add. */
export class Metrics {
  private readonly values = new Map<MetricName, number>();
  private readonly labelled = new Map<LabelledName, Map<string, { labels: Record<string, string>; value: number }>>();
  private readonly histograms = new Map<HistogramName, Histogram>();
  private readonly topicStreams = new Map<string, number>();
  private pendingWrites: number[] = [];

  /** @param now the clock, epoch ms (tests pass a fake one). */
  constructor(private readonly now: () => number = Date.now) {
    for (const name of Object.keys(DEFINITIONS) as CellName[]) this.values.set(name, 0);
    for (const [name, def] of Object.entries(HISTOGRAMS)) this.histograms.set(name as HistogramName, new Histogram(def.bounds));
  }

  inc(name: MetricName, by = 1): void {
    const value = this.values.get(name);
    if (value === undefined) return this.incRejectionView(name as keyof typeof REJECTION_VIEWS, by);
    this.values.set(name, value + by);
    if (this.pendingWrites.length > 0 && name === WRITE_PASS_METRIC) this.settleWrites();
  }

  /**
   * Bytes written to a stream outside the hub's write pass: the first `retry:`, a replay or live burst past a coalescing
   * bound, a stream's last frames, a queue message. Counted in sse_bytes_written_total like the pass's own bytes, but
   * not a write pass: the messages waiting for one are observed by the pass (see awaitWrite), not here.
   */
  addBytesWritten(bytes: number): void {
    if (bytes > 0) this.values.set(WRITE_PASS_METRIC, (this.values.get(WRITE_PASS_METRIC) ?? 0) + bytes);
  }

  set(name: CellName, value: number): void {
    this.values.set(name, value);
  }

  /** The value of a counter or gauge; for a former rejection counter, the sum of its sse_http_errors_total series. */
  get(name: MetricName): number {
    const view = (REJECTION_VIEWS as Record<string, { codes: readonly string[]; route: string | undefined }>)[name];
    if (view === undefined) return this.values.get(name) ?? 0;
    let sum = 0;
    for (const { labels, value } of this.labelledValues('sse_http_errors_total')) {
      const codeMatches = view.codes.length === 0 || view.codes.includes(labels['code'] ?? '');
      if (codeMatches && (view.route === undefined || labels['route'] === view.route)) sum += value;
    }
    return sum;
  }

  /** Adds to one series of a labelled counter; `labels` must name every label of its definition. */
  incLabelled(name: LabelledName, labels: Record<string, string>, by = 1): void {
    let series = this.labelled.get(name);
    if (series === undefined) this.labelled.set(name, (series = new Map()));
    const key = LABELLED[name].labels.map((label) => labels[label] ?? '').join('\u0000');
    const cell = series.get(key);
    if (cell === undefined) series.set(key, { labels: { ...labels }, value: by });
    else cell.value += by;
  }

  /** Every series of a labelled counter so far. */
  labelledValues(name: LabelledName): LabelledValue[] {
    return [...(this.labelled.get(name)?.values() ?? [])];
  }

  observe(name: HistogramName, value: number): void {
    this.histograms.get(name)?.observe(value);
  }

  histogram(name: HistogramName): Histogram {
    return this.histograms.get(name) as Histogram;
  }

  /**
   * Notes a message's publish time (epoch ms) when it is handed to the hub; the next write pass (reported through
   * sse_bytes_written_total) observes publish → write in sse_delivery_latency_seconds. One entry per message.
   */
  awaitWrite(publishedAt: number): void {
    if (this.pendingWrites.length < MAX_PENDING_WRITES) this.pendingWrites.push(publishedAt);
  }

  private settleWrites(): void {
    const now = this.now();
    const latency = this.histograms.get('sse_delivery_latency_seconds') as Histogram;
    for (const publishedAt of this.pendingWrites) latency.observe(Math.max(0, now - publishedAt) / 1000);
    this.pendingWrites = [];
  }

  /** A stream ended after `seconds`; `reason` says who ended it. */
  streamEnded(seconds: number, reason: 'client_closed' | 'server_closed'): void {
    this.observe('sse_stream_duration_seconds', seconds);
    this.incLabelled('sse_stream_ends_total', { reason });
  }

  /** A stream of `topics` started (for the per-topic subscriber gauge, METRICS_TOPICS_TOP_N). */
  topicsJoined(topics: readonly string[]): void {
    for (const topic of topics) this.topicStreams.set(topic, (this.topicStreams.get(topic) ?? 0) + 1);
  }

  /** A stream of `topics` ended. */
  topicsLeft(topics: readonly string[]): void {
    for (const topic of topics) {
      const left = (this.topicStreams.get(topic) ?? 1) - 1;
      if (left > 0) this.topicStreams.set(topic, left);
      else this.topicStreams.delete(topic);
    }
  }

  /** Topics with open streams in this process. */
  get activeTopics(): number {
    return this.topicStreams.size;
  }

  /** The `n` topics with the most open streams, most first. */
  topTopics(n: number): [topic: string, streams: number][] {
    if (n <= 0) return [];
    return [...this.topicStreams].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n);
  }

  /** Every counter and gauge (labelled series as `name{label="value",…}`), for exporters such as CloudWatch EMF. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.values);
    for (const name of Object.keys(LABELLED) as LabelledName[]) {
      for (const { labels, value } of this.labelledValues(name)) {
        out[`${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`] = value;
      }
    }
    return out;
  }

  private incRejectionView(name: keyof typeof REJECTION_VIEWS, by: number): void {
    const view = REJECTION_VIEWS[name];
    const code: string = view.codes[0] ?? 'internal';
    this.incLabelled('sse_http_errors_total', { code, route: view.route ?? 'other' }, by);
  }
}
