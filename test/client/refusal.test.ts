import { expect, test } from '@jest/globals';
import { refusalAction, retryAfterMs } from '../../public/sse-refusal.js';

// The client's answer to each refusal the relay gives (README, "Errors"), decided from status, code and Retry-After.

test('each status the relay answers leads to one action', () => {
  const half = (): number => 0.5;
  const cases: [number, string | undefined, string | null, boolean, unknown][] = [
    [401, 'unauthorized', null, true, { kind: 'refresh' }],
    [401, 'unauthorized', null, false, { kind: 'backoff' }],
    [403, 'forbidden', null, true, { kind: 'forbidden' }],
    [400, 'invalid_cursor', null, true, { kind: 'forget-cursor' }],
    [400, 'invalid_topic', null, true, { kind: 'fail' }],
    [400, 'too_many_topics', null, true, { kind: 'fail' }],
    [404, 'not_found', null, true, { kind: 'fail' }],
    [429, 'rate_limited', '10', true, { kind: 'wait', delayMs: 11_000 }],
    [503, 'shutting_down', '1', true, { kind: 'wait', delayMs: 1_100 }],
    [503, 'source_unavailable', null, true, { kind: 'backoff' }],
    [503, 'too_many_connections', 'soon', true, { kind: 'backoff' }],
    [500, 'internal', null, true, { kind: 'backoff' }],
    [502, undefined, null, true, { kind: 'backoff' }],
    [200, undefined, null, true, { kind: 'backoff' }],
  ];
  for (const [status, code, retryAfter, canRefresh, expected] of cases) {
    expect([status, code, retryAfter, refusalAction(status, code, retryAfter, canRefresh, half)]).toEqual([status, code, retryAfter, expected]);
  }
});

test('Retry-After: delta-seconds or an HTTP date, never negative; anything else is ignored', () => {
  expect(retryAfterMs('5')).toBe(5_000);
  expect(retryAfterMs(' 0 ')).toBe(0);
  expect(retryAfterMs(new Date(Date.now() - 60_000).toUTCString())).toBe(0);
  expect(retryAfterMs(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThan(50_000);
  for (const bad of [null, undefined, '', '-1', '1.5', 'soon']) expect(retryAfterMs(bad)).toBeUndefined();
});
