import { describe, expect, it } from '@jest/globals';
import { PERSIST, StreamTtlRenewals } from '../../lib/sources/redis/stream-ttl.js';

describe('StreamTtlRenewals', () => {
  it('is due on a topic first seen, then once per tenth of the TTL', () => {
    let now = 0;
    const renewals = new StreamTtlRenewals(1_000, () => now);
    expect(renewals.due('a')).toBe(true);
    renewals.renewed('a');
    now = 99_999;
    expect(renewals.due('a')).toBe(false);
    expect(renewals.due('b')).toBe(true);
    now = 100_000;
    expect(renewals.due('a')).toBe(true);
  });

  it('with a TTL of 0, is due once per topic (to remove an expiry an earlier TTL left), again after forget()', () => {
    const renewals = new StreamTtlRenewals(0);
    expect([renewals.due('a'), renewals.expiryArgument]).toEqual([true, PERSIST]);
    renewals.renewed('a');
    expect([renewals.due('a'), renewals.due('b')]).toEqual([false, true]);
    renewals.forget();
    expect(renewals.due('a')).toBe(true);
    expect(new StreamTtlRenewals(60).expiryArgument).toBe(60);
  });

  it('stays due until a renewal succeeded (a failed first append leaves no key without its TTL)', () => {
    const renewals = new StreamTtlRenewals(60);
    expect(renewals.due('a')).toBe(true);
    expect(renewals.due('a')).toBe(true);
  });
});
