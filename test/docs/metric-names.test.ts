import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { startRelay } from '../support/relay-server.js';

// An operator copies a metric name from the README or docs/ into an alert rule: every name they give must be a series
// a real /metrics scrape has (SOURCE=redis, per-topic gauge on), or the alert watches nothing and never fires.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
// Exported only by the primary of WORKERS > 1 (test/e2e/workers.test.ts scrapes them).
const PRIMARY_ONLY = new Set(['sse_workers', 'sse_worker_restarts_total']);

/** `page: name` for every sse_* metric name in inline code, bar lines that name retired names as such. */
function documentedNames(): string[] {
  const found = new Set<string>();
  for (const page of PAGES) {
    for (const line of readFileSync(join(ROOT, page), 'utf8').split('\n')) {
      if (line.includes('no longer exported')) continue;
      for (const [, code] of line.matchAll(/`([^`]+)`/g)) {
        // Not metrics: the nginx log format, upstream and variables (sse_relay*), the auth cookie (sse_token).
        for (const [name] of (code as string).matchAll(/\bsse_[a-z0-9_]+/g)) if (!/^sse_(relay|token)/.test(name)) found.add(`${page}: ${name}`);
      }
    }
  }
  return [...found];
}

let redis: TestRedis;
let exported: Set<string>;

beforeAll(async () => {
  redis = await startRedis();
  const relay = await startRelay({ SOURCE: 'redis', REDIS_URL: redis.url, METRICS_TOPICS_TOP_N: '5', SHUTDOWN_DRAIN_MS: '100' });
  try {
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
      type === 'histogram' ? [name as string, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name as string]));
  } finally {
    await relay.stop();
  }
}, 30_000);

afterAll(async () => {
  await redis.stop();
});

test('every metric the README and docs/ name is one /metrics exports', () => {
  const names = documentedNames();
  expect(names.length).toBeGreaterThan(20);
  expect(names.filter((entry) => {
    const name = entry.split(': ')[1] as string;
    return !exported.has(name) && !PRIMARY_ONLY.has(name);
  })).toEqual([]);
});
