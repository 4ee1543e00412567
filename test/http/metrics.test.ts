import { afterEach, describe, expect, it } from '@jest/globals';
import { publish, startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';
import { rawExchange } from '../security/support.js';

// /metrics is prom-client's exposition of the relay's plain-number metrics: labelled rejections, histograms, per-topic
// subscribers, process and event-loop metrics. With METRICS_PORT it moves to its own listener.

type Relay = Awaited<ReturnType<typeof startRelay>>;
const relays: Relay[] = [];
afterEach(async () => {
  for (const relay of relays.splice(0)) await relay.stop();
});

async function start(env: Record<string, string> = {}): Promise<Relay> {
  const relay = await startRelay({ SHUTDOWN_DRAIN_MS: '200', ...env });
  relays.push(relay);
  return relay;
}

/** The value of one series line (`name{labels} value`), or undefined. */
function series(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('GET /metrics', () => {
  it('labels rejections by code and route instead of one counter per kind', async () => {
    const { url } = await start({ MAX_TOPICS: '1' });
    expect((await fetch(`${url}/events?topic=a,b`)).status).toBe(400);
    expect((await fetch(`${url}/events?topic=a%0a`)).status).toBe(400);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(series(text, 'sse_http_errors_total{code="too_many_topics",route="events"}')).toBe(1);
    expect(series(text, 'sse_http_errors_total{code="invalid_topic",route="events"}')).toBe(1);
    expect(series(text, 'sse_http_errors_total{code="not_found",route="other"}')).toBe(1);
    expect(text).not.toMatch(/^sse_too_many_topics_total/m);
  });

  it('measures publish → write latency and stream duration as histograms, and streams per topic (top N)', async () => {
    const { url } = await start({ METRICS_TOPICS_TOP_N: '2' });
    const readers = [...['busy', 'busy', 'busy', 'mid', 'mid', 'calm']].map((topic) => new SseReader(`${url}/events?topic=${topic}`));
    for (const reader of readers) await reader.until((r) => r.retries.length > 0);
    for (let i = 0; i < 5; i++) expect((await publish(url, { topic: 'busy', data: `m${i}` })).status).toBe(202);
    for (const reader of readers.slice(0, 3)) await reader.until((r) => r.events.length === 5);
    let text = await (await fetch(`${url}/metrics`)).text();
    expect(series(text, 'sse_delivery_latency_seconds_count')).toBe(5);
    expect(series(text, 'sse_delivery_latency_seconds_bucket{le="+Inf"}')).toBe(5);
    expect(series(text, 'sse_delivery_latency_seconds_bucket{le="10"}')).toBe(5);
    expect(series(text, 'sse_topic_subscribers{topic="busy"}')).toBe(3);
    expect(series(text, 'sse_topic_subscribers{topic="mid"}')).toBe(2);
    expect(series(text, 'sse_topic_subscribers{topic="calm"}')).toBeUndefined();
    expect(series(text, 'sse_topics_active')).toBe(3);
    for (const reader of readers) reader.close();
    await waitFor(async () => series((text = await (await fetch(`${url}/metrics`)).text()), 'sse_stream_duration_seconds_count') === 6,
      'six stream durations observed', { timeoutMs: 5_000, everyMs: 20 }).catch(() => undefined);
    expect(series(text, 'sse_stream_duration_seconds_count')).toBe(6);
    expect(series(text, 'sse_stream_ends_total{reason="client_closed"}')).toBe(6);
    expect(series(text, 'sse_topics_active')).toBe(0);
    expect(series(text, 'sse_connections_open')).toBe(0);
  });

  it('includes default process metrics, event-loop lag and the source label', async () => {
    const { url } = await start();
    const response = await fetch(`${url}/metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      expect([name, new RegExp(`^${name}(\\{[^}]*\\})? `, 'm').test(text)]).toEqual([name, true]);
    }
    expect(series(text, 'sse_source_errors_total{source="memory"}')).toBe(0);
    expect(series(text, 'sse_source_up')).toBe(1);
  });
});

describe('METRICS_PORT', () => {
  it('serves /metrics on its own listener only; the main port answers 404 for it', async () => {
    const relay = await start({ METRICS_PORT: '0' });
    expect(relay.metricsPort).toBeGreaterThan(0);
    const main = await fetch(`${relay.url}/metrics`);
    expect([main.status, await main.json()]).toMatchObject([404, { error: 'not_found' }]);
    const separate = await fetch(`http://127.0.0.1:${relay.metricsPort}/metrics`);
    expect(separate.status).toBe(200);
    expect(await separate.text()).toMatch(/^sse_connections_open 0$/m);
    for (const path of ['/events?topic=a', '/publish', '/', '/metrics/', '/healthz']) {
      expect([path, (await fetch(`http://127.0.0.1:${relay.metricsPort}${path}`)).status]).toEqual([path, 404]);
    }
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });

  it('holds its requests to REQUEST_TIMEOUT_MS, as the main port does: headers that never finish get 408', async () => {
    const relay = await start({ METRICS_PORT: '0', REQUEST_TIMEOUT_MS: '1000' });
    // Node's own default would wait 60 s for the headers: a 408 within the exchange's 8 s is the deadline's.
    const raw = await rawExchange(relay.metricsPort!, 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ', () => false, 8_000);
    expect(raw).toMatch(/^HTTP\/1\.1 408 /);
  });
});
