import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRelay } from '../support/relay-server.js';
import { REPO_ROOT } from './kustomize-render.js';

// grafana/sse-relay-dashboard.json queries only series the relay exports: every metric name in its PromQL must appear in
// a real /metrics scrape (with the per-topic gauge on), so a renamed metric cannot leave a panel silently empty.

interface Panel { type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: { expr: string }[] }
const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'grafana', 'sse-relay-dashboard.json'), 'utf8')) as { uid: string; panels: Panel[] };
const PROMQL_WORDS = new Set(['sum', 'by', 'rate', 'max', 'min', 'topk', 'histogram_quantile', 'le', 'reason', 'code', 'route', 'pod', 'topic', 'namespace']);

/** Metric names in a PromQL expression (identifiers before `{`, `[` or `)`, minus functions and labels). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b([a-z_][a-z0-9_]*)\b/g)].map((m) => m[1] as string).filter((w) => !PROMQL_WORDS.has(w) && /_/.test(w) && !/^\$/.test(w));
}

describe('Grafana dashboard', () => {
  test('shows connections, delivery rate, latency, rejections and Redis health', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of ['open streams', 'delivery rate', 'latency', 'errors by code', 'redis memory', 'oom']) expect(titles).toContain(topic);
    expect(dashboard.uid).toBe('sse-relay');
  });

  test('every metric it queries is exported by the relay', async () => {
    const relay = await startRelay({ SOURCE: 'memory', METRICS_TOPICS_TOP_N: '5', SHUTDOWN_DRAIN_MS: '100' });
    let exported: Set<string>;
    try {
      const text = await (await fetch(`${relay.url}/metrics`)).text();
      exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name as string]));
    } finally {
      await relay.stop();
    }
    // Redis gauges exist only with SOURCE=redis (test/redis/stream-memory.test.ts scrapes them).
    const redisOnly = new Set(['sse_redis_used_memory_bytes', 'sse_redis_maxmemory_bytes']);
    const queried = dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => metricNames(t.expr));
    expect(queried.length).toBeGreaterThan(20);
    expect([...new Set(queried)].filter((name) => !exported.has(name) && !redisOnly.has(name))).toEqual([]);
  });

  test('panels do not overlap', () => {
    const cells = new Set<string>();
    for (const { gridPos: g } of dashboard.panels) {
      for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
        expect(cells.has(`${x},${y}`)).toBe(false);
        cells.add(`${x},${y}`);
      }
    }
  });
});
