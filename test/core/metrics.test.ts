import { describe, expect, it } from '@jest/globals';
import { Histogram } from '../../lib/histogram.js';
import { Metrics } from '../../lib/metrics.js';
import { publishedAt } from '../../lib/engine/timed-source.js';

describe('Metrics', () => {
  it('keeps plain counters and gauges readable with get()', () => {
    const metrics = new Metrics();
    metrics.inc('sse_events_delivered_total', 3);
    metrics.inc('sse_events_delivered_total');
    metrics.set('sse_connections_open', 7);
    expect(metrics.get('sse_events_delivered_total')).toBe(4);
    expect(metrics.get('sse_connections_open')).toBe(7);
    expect(metrics.get('sse_resets_total')).toBe(0);
  });

  it('the former rejection counters are views of sse_http_errors_total{code,route}', () => {
    const metrics = new Metrics();
    metrics.incLabelled('sse_http_errors_total', { code: 'unauthorized', route: 'events' });
    metrics.incLabelled('sse_http_errors_total', { code: 'rate_limited', route: 'publish' }, 2);
    metrics.incLabelled('sse_http_errors_total', { code: 'rate_limited', route: 'events' });
    metrics.inc('sse_auth_forbidden_total');
    expect(metrics.get('sse_auth_unauthorized_total')).toBe(1);
    expect(metrics.get('sse_publish_rate_limited_total')).toBe(2);
    expect(metrics.get('sse_connections_rejected_total')).toBe(1);
    expect(metrics.get('sse_auth_forbidden_total')).toBe(1);
    expect(metrics.get('sse_http_errors_total')).toBe(5);
    expect(metrics.snapshot()).toMatchObject({ 'sse_http_errors_total{code="rate_limited",route="publish"}': 2, sse_connections_open: 0 });
  });

  it('observes publish → write when the hub reports its next write pass', () => {
    let now = 10_000;
    const metrics = new Metrics(() => now);
    metrics.awaitWrite(9_990);
    metrics.awaitWrite(9_700);
    expect(metrics.histogram('sse_delivery_latency_seconds').count).toBe(0);
    now = 10_005;
    metrics.inc('sse_bytes_written_total', 100);
    const latency = metrics.histogram('sse_delivery_latency_seconds');
    expect(latency.count).toBe(2);
    expect(latency.sum).toBeCloseTo(0.015 + 0.305, 6);
    metrics.inc('sse_bytes_written_total', 100);
    expect(latency.count).toBe(2);
  });

  it('counts streams per topic and ranks the top N', () => {
    const metrics = new Metrics();
    metrics.topicsJoined(['a', 'b']);
    metrics.topicsJoined(['b']);
    metrics.topicsJoined(['c']);
    expect(metrics.topTopics(2)).toEqual([['b', 2], ['a', 1]]);
    expect(metrics.topTopics(0)).toEqual([]);
    metrics.topicsLeft(['a', 'b']);
    metrics.streamEnded(12, 'server_closed');
    expect(metrics.activeTopics).toBe(2);
    expect(metrics.histogram('sse_stream_duration_seconds').count).toBe(1);
    expect(metrics.labelledValues('sse_stream_ends_total')).toEqual([{ labels: { reason: 'server_closed' }, value: 1 }]);
  });
});

describe('Histogram', () => {
  it('counts each observation in the first bucket whose bound it does not exceed; cumulative like Prometheus', () => {
    const h = new Histogram([0.1, 1, 10]);
    for (const v of [0.05, 0.1, 0.5, 5, 50]) h.observe(v);
    expect(h.cumulative()).toEqual([2, 3, 4]);
    expect(h.count).toBe(5);
    expect(h.sum).toBeCloseTo(55.65, 6);
  });
});

describe('publishedAt', () => {
  it('reads a Redis stream id or the message stamp, and nothing from a counter position', () => {
    expect(publishedAt({ topic: 't', position: '1700000000123-4', event: 'message', data: '' })).toBe(1_700_000_000_123);
    expect(publishedAt({ topic: 't', position: '7', event: 'message', data: '', publishedAt: 42 })).toBe(42);
    expect(publishedAt({ topic: 't', position: '7', event: 'message', data: '' })).toBeUndefined();
  });
});
