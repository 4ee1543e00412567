import { describe, expect, it } from '@jest/globals';
import { compilePatterns, isValidPattern } from '../../lib/auth/patterns.js';
import { loadConfig } from '../../lib/config/index.js';
import { RateLimiter } from '../../lib/limits/rate-limit.js';
import { isRelayError } from '../../lib/errors.js';

describe('topic pattern language', () => {
  it.each(['*', 'orders', 'user.123.*', 'tenant:7:*', 'a*'])('accepts %s', (pattern) => expect(isValidPattern(pattern)).toBe(true));
  it.each(['', '**', '.*', 'user.*.inbox', '*.orders', 'a b', 'a\r\n*', 'ö*', 'x'.repeat(129), 5, null])('refuses %p', (pattern) =>
    expect(isValidPattern(pattern)).toBe(false));

  it('matches exactly, by prefix (with at least one more character), or everything', () => {
    const matcher = compilePatterns(['orders', 'user.123.*']);
    expect(['orders', 'user.123.inbox', 'user.123.a.b'].map((t) => matcher?.matches(t))).toEqual([true, true, true]);
    expect(['orders2', 'user.123', 'user.1234', 'user.12'].map((t) => matcher?.matches(t))).toEqual([false, false, false, false]);
    expect(compilePatterns(['*'])?.matches('anything')).toBe(true);
    expect(compilePatterns(undefined)?.matches('orders')).toBe(false);
  });

  it('refuses a malformed list as a whole', () => {
    expect(compilePatterns('orders')).toBeUndefined();
    expect(compilePatterns(['orders', 'bad pattern'])).toBeUndefined();
    expect(compilePatterns(Array.from({ length: 257 }, (_, i) => `t${i}`))).toBeUndefined();
  });
});

describe('RateLimiter', () => {
  it('allows a burst of perMinute, then refills at perMinute/60 per second, and says how long to wait', () => {
    let now = 0;
    const limiter = new RateLimiter(60, 100, () => now);
    for (let i = 0; i < 60; i++) limiter.take('k');
    let thrown: unknown;
    try {
      limiter.take('k');
    } catch (error) {
      thrown = error;
    }
    expect(isRelayError(thrown) && thrown.code === 'rate_limited' && thrown.retryAfterSeconds).toBe(1);
    now += 1_000;
    expect(() => limiter.take('k')).not.toThrow();
    expect(() => limiter.take('other')).not.toThrow();
  });

  it('remembers at most maxKeys keys', () => {
    const limiter = new RateLimiter(10, 50);
    for (let i = 0; i < 10_000; i++) limiter.take(`key-${i}`);
    expect(limiter.size).toBe(50);
  });

  it('is off at 0', () => {
    const limiter = new RateLimiter(0);
    for (let i = 0; i < 1_000; i++) limiter.take('k');
    limiter.charge('k', 1_000);
    limiter.assertAvailable('k');
    expect(limiter.size).toBe(0);
  });

  it('charged after the fact: refuses once the bucket is empty, at most a minute in debt, named after its variable', () => {
    let now = 0;
    const limiter = new RateLimiter(60, 100, () => now, 'ACK_MISSES_PER_MINUTE');
    limiter.assertAvailable('k');
    limiter.charge('k', 59);
    limiter.assertAvailable('k');
    limiter.charge('k', 1_000);
    expect(() => limiter.assertAvailable('k')).toThrow(expect.objectContaining({ code: 'rate_limited', message: 'ACK_MISSES_PER_MINUTE (60) exceeded', retryAfterSeconds: 61 }));
    expect(() => limiter.assertAvailable('other')).not.toThrow();
    // 60 below zero at most: a minute and a second pays it back, however much was charged.
    now += 61_000;
    expect(() => limiter.assertAvailable('k')).not.toThrow();
  });
});

describe('security configuration', () => {
  const base = { AUTH_MODE: 'none' };
  it('TRUST_PROXY defaults to false and reads true/false', () => {
    expect(loadConfig(base).server.trustProxy).toBe(false);
    expect(loadConfig({ ...base, TRUST_PROXY: 'true' }).server.trustProxy).toBe(true);
    expect(() => loadConfig({ ...base, TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY/);
  });

  it('CORS_ORIGINS takes exact origins only', () => {
    expect(loadConfig({ ...base, CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).auth.corsOrigins).toEqual(['https://a.example', 'http://localhost:3000']);
    for (const bad of ['*', 'https://a.example/', 'https://a.example/path', 'a.example', 'null']) {
      expect(() => loadConfig({ ...base, CORS_ORIGINS: bad })).toThrow(/CORS_ORIGINS/);
    }
  });

  it('auth is on by default and needs a key; only the demo defaults it off', () => {
    expect(() => loadConfig({})).toThrow(/AUTH_JWT_SECRET/);
    expect(loadConfig({ DEMO: 'true' }).auth.mode).toBe('none');
    expect(loadConfig({ AUTH_JWT_SECRET: 'x'.repeat(32) }).auth.mode).toBe('jwt');
  });
});
