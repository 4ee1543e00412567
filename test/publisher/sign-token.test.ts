import { expect, test } from '@jest/globals';
import { jwtVerify } from 'jose';
import { parseTtl, signToken, type SignTokenOptions } from '../../publisher/index.js';

// signToken is what a backend's token route calls, usually with process.env.AUTH_JWT_SECRET: every mistake must say
// what was wrong and how to fix it, not `Cannot read properties of undefined` or a token the relay refuses later.

const SECRET = 'sign-token-test-secret-of-32-bytes!!';
const sign = (options: unknown): Promise<string> => signToken(options as SignTokenOptions);

test('a missing, mistyped or short secret names AUTH_JWT_SECRET and the fix, never the secret', async () => {
  // Before: "Cannot read properties of undefined (reading 'byteLength')".
  await expect(sign({ secret: undefined, subscribe: ['orders'] })).rejects.toThrow(new TypeError(
    "signToken needs secret, the relay's AUTH_JWT_SECRET as a string or bytes; got undefined (is AUTH_JWT_SECRET set in this process's environment?)"));
  await expect(sign({ secret: 42, subscribe: ['orders'] })).rejects.toThrow(/needs secret.*got number/);
  for (const secret of ['', 'short-secret']) {
    const error = (await sign({ secret, subscribe: ['orders'] }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(`signToken secret is ${secret.length} bytes; it must be at least 32, as the relay's AUTH_JWT_SECRET (generate one with \`openssl rand -base64 48\` and give the relay the same)`);
  }
});

test('options: not an object, an unknown name (with the one meant), no grant at all', async () => {
  await expect(sign(undefined)).rejects.toThrow(new TypeError('signToken takes an options object { secret, subscribe?, publish?, ttl?, subject?, audience?, issuer? }'));
  // `expiresIn` was ignored: the token lived the default hour.
  await expect(sign({ secret: SECRET, subscribe: ['orders'], expiresIn: '5m' })).rejects.toThrow(/unknown option "expiresIn" \(did you mean ttl\?\)/);
  await expect(sign({ secret: SECRET, topics: ['orders'] })).rejects.toThrow(/unknown option "topics" \(did you mean subscribe or publish\?\)/);
  // A token that allows nothing was signed, and refused by the relay on every topic.
  await expect(sign({ secret: SECRET })).rejects.toThrow(new RangeError("signToken needs at least one pattern in subscribe or publish (e.g. subscribe: ['orders']): a token with neither is refused every topic by the relay"));
});

test('topic patterns: the grant, the index and the accepted forms', async () => {
  await expect(sign({ secret: SECRET, subscribe: 'orders' })).rejects.toThrow(new TypeError("subscribe must be an array of topic patterns, e.g. ['orders']; got string"));
  await expect(sign({ secret: SECRET, publish: ['orders', 7] })).rejects.toThrow(new TypeError('publish[1] must be a string topic pattern; got number'));
  await expect(sign({ secret: SECRET, subscribe: ['orders', 'user.*.inbox'] })).rejects.toThrow(/^subscribe\[1\] "user\.\*\.inbox" is not a topic pattern: a topic .*, a topic prefix ending in \* \(user\.42\.\*\), or \*$/);
  await expect(sign({ secret: SECRET, subscribe: Array.from({ length: 257 }, (_v, i) => `t${i}`) })).rejects.toThrow(/subscribe has 257 patterns; the relay accepts at most 256/);
});

test('ttl and the claims: wrong types and values are named', async () => {
  // Before: "ttl.trim is not a function".
  await expect(sign({ secret: SECRET, subscribe: ['orders'], ttl: { minutes: 5 } })).rejects.toThrow(new TypeError('ttl must be a number of seconds or a string like 10m; got object'));
  for (const ttl of [0, -5, 1.5, '10 minutes', '', 'NaN']) {
    await expect(sign({ secret: SECRET, subscribe: ['orders'], ttl })).rejects.toThrow(/^ttl must be a positive whole number of seconds or like 30s, 10m, 1h, 7d; got /);
  }
  expect(() => parseTtl('99999999999999999999d')).toThrow(RangeError);
  await expect(sign({ secret: SECRET, subscribe: ['orders'], subject: 42 })).rejects.toThrow(new TypeError('signToken subject must be a non-empty string; got number'));
  await expect(sign({ secret: SECRET, subscribe: ['orders'], audience: '' })).rejects.toThrow(new TypeError('signToken audience must be a non-empty string; got an empty string'));
});

test('good options still sign the token the relay reads', async () => {
  const jwt = await signToken({ secret: SECRET, subscribe: ['orders', 'user.42.*'], ttl: '10m', subject: 'u42', audience: 'relay', issuer: 'app' });
  const { payload } = await jwtVerify(jwt, new TextEncoder().encode(SECRET), { audience: 'relay', issuer: 'app' });
  expect(payload).toMatchObject({ sse: { subscribe: ['orders', 'user.42.*'], publish: [] }, sub: 'u42' });
  expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(600);
});
