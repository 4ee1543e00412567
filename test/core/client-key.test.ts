import { expect, it } from '@jest/globals';
import { clientKey } from '../../lib/limits/client-key.js';

it('keys an IPv4 address as itself, and an IPv4-mapped IPv6 address as the IPv4 address it carries', () => {
  expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
  expect(clientKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
  expect(clientKey('::FFFF:cb00:7109')).toBe('203.0.113.9');
});

it('keys an IPv6 address by its /64, whichever way it is written', () => {
  const key = '2001:db8:1:2::/64';
  for (const address of ['2001:db8:1:2::1', '2001:0db8:0001:0002:ffff:ffff:ffff:fffe', '2001:DB8:1:2:a::b', '2001:db8:1:2::', 'fe80::1%eth0'.replace('fe80::', '2001:db8:1:2::')]) {
    expect(clientKey(address)).toBe(key);
  }
  expect(clientKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
  expect(clientKey('::1')).toBe('0:0:0:0::/64');
  expect(clientKey('2001:db8::1.2.3.4')).toBe('2001:db8:0:0::/64');
});

it('keeps what is not an address as it is (the adapter has already checked it is one)', () => {
  for (const odd of ['unknown', '1:2:3', '1::2::3', '12345::1', '1:2:3:4:5:6:7:8:9']) expect(clientKey(odd)).toBe(odd);
});
