import { afterAll, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublisher, httpTransport, type HttpTransportOptions } from '../../publisher/index.js';
import { startRelay } from '../support/relay-server.js';

// httpTransport: what is wrong with its options is said at construction, and the two failures a producer cannot read
// from the relay's answer alone (a 413 on data within MAX_MESSAGE_BYTES, a token function that never settles) are
// explained.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

const transport = (options: unknown): unknown => httpTransport(options as HttpTransportOptions);
const configError = (text: string): unknown => expect.objectContaining({ name: 'PublishError', code: 'invalid_config', message: expect.stringContaining(text) });

test('url: http(s) only, no query or fragment, no credentials (unless a fetch of your own is given), never repeated in the error', () => {
  expect(() => transport({ url: 'redis://127.0.0.1:6379' })).toThrow(configError('must be http: or https:; got redis: (a Redis URL belongs to redisTransport'));
  expect(() => transport({ url: 'ftp://relay.example.com' })).toThrow(configError('must be http: or https:; got ftp:'));
  // fetch refused such a URL on every call ("Request cannot be constructed from a URL that includes credentials"),
  // which came back as `unavailable` and was retried.
  let error: unknown;
  try {
    transport({ url: 'https://admin:hunter2@relay.example.com' });
  } catch (caught) {
    error = caught;
  }
  expect(error).toEqual(configError('must not hold a user or password (fetch refuses such a URL): pass a token'));
  expect(String((error as Error).message)).not.toContain('hunter2');
  expect(() => transport({ url: 'https://admin:hunter2@relay.example.com', fetch: async () => new Response() })).not.toThrow();
  // The query was dropped when /publish was appended.
  expect(() => transport({ url: 'https://relay.example.com/?access_token=x' })).toThrow(configError('must not have a query or fragment'));
  expect(() => transport({ url: 'https://relay.example.com/base/' })).not.toThrow();
});

test('options: an unknown name or a wrong type is named at construction', () => {
  expect(() => transport({ url: 'https://relay.example.com', retry: 3 })).toThrow(configError('httpTransport: unknown option "retry"; the options are url, token, retries'));
  expect(() => transport({ url: 'https://relay.example.com', token: 42 })).toThrow(configError('httpTransport token must be a string (a JWT with a publish grant) or a function returning one; got a number'));
  expect(() => transport({ url: 'https://relay.example.com', idempotent: 'yes' })).toThrow(configError('httpTransport idempotent must be true or false; got a string'));
  expect(() => transport({ url: 'https://relay.example.com', fetch: 'fetch' })).toThrow(configError('httpTransport fetch must be a function'));
  expect(() => transport({ url: 'https://relay.example.com', timeoutMs: 2 ** 31 })).toThrow(configError('httpTransport timeoutMs must be a whole number of ms from 1 to 2147483647; got 2147483648'));
});

test('a 413 on data within MAX_MESSAGE_BYTES says the JSON body passed MAX_BODY_BYTES, and why', async () => {
  const relay = await startRelay({ MAX_BODY_BYTES: '100000', MAX_MESSAGE_BYTES: '65536' });
  cleanups.push(() => relay.stop());
  // 30,000 bytes of data, each a control character that JSON writes as 6 bytes: 180,000 bytes of body.
  const publisher = createPublisher(httpTransport({ url: relay.url, retries: 0 }));
  const error = (await publisher.publish('orders', '\u0001'.repeat(30_000)).catch((e: unknown) => e)) as Error;
  expect(error).toMatchObject({ name: 'PublishError', code: 'body_too_large', status: 413 });
  expect(error.message).toMatch(/exceeded the relay's MAX_BODY_BYTES .*JSON escaping can grow data that is within MAX_MESSAGE_BYTES past it/);
  expect(error.message).toContain('was 180');
});

test('a token function that never settles, or throws, fails the publish with a clear error instead of hanging', async () => {
  let requests = 0;
  const server: Server = createServer((_req, res) => (requests += 1, res.writeHead(202, { 'content-type': 'application/json' }).end('{"id":"1"}')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Before, this publish never settled.
  const never = createPublisher(httpTransport({ url, timeoutMs: 50, token: () => new Promise<string>(() => {}) }));
  await expect(never.publish('orders', 1)).rejects.toMatchObject({
    name: 'PublishError', code: 'unavailable', message: 'httpTransport token function gave no token within timeoutMs (50 ms): it must resolve with a JWT string',
  });
  const throwing = createPublisher(httpTransport({ url, token: () => { throw new Error('vault is sealed'); } }));
  await expect(throwing.publish('orders', 1)).rejects.toMatchObject({ code: 'unavailable', message: 'httpTransport token function failed: vault is sealed' });
  expect(requests).toBe(0);
  const working = createPublisher(httpTransport({ url, token: async () => 'a.b.c' }));
  await expect(working.publish('orders', 1)).resolves.toEqual({ id: '1' });
});
