import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from '../../functions/logger.js';
import { hsToken, startSecureRelay, type Relay } from './support.js';
import { waitFor } from '../support/wait-for.js';
import { Redis } from 'ioredis';
import { startRedis } from '../support/redis-server.js';

const lines: string[] = [];
let relay: Relay;

beforeAll(async () => {
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
  relay = await startSecureRelay({}, createLogger('debug', sink));
});
afterAll(async () => relay.stop());

it('writes JSON lines with a request id, and never a token or a payload', async () => {
  const token = await hsToken({ sub: 'carol' });
  const secretPayload = 'payload-that-must-not-be-logged';
  const subscribe = await fetch(`${relay.url}/events?topic=logs&access_token=${token}`, { headers: { 'x-request-id': 'req-42' } });
  expect(subscribe.headers.get('x-request-id')).toBe('req-42');
  await subscribe.body?.cancel();
  const published = await fetch(`${relay.url}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', cookie: `sse_token=${token}` },
    body: JSON.stringify({ topic: 'logs', data: secretPayload }),
  });
  expect(published.status).toBe(202);
  const bad = await fetch(`${relay.url}/events?topic=logs&access_token=${token}x`);
  expect(bad.status).toBe(401);
  await waitFor(() => lines.some((line) => line.includes('"status":401')), 'the 401 in the log');
  const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(records.find((r) => r['requestId'] === 'req-42' && r['msg'] === 'stream opened')).toMatchObject({ path: '/events', status: 200 });
  expect(records.find((r) => r['path'] === '/publish')).toMatchObject({ status: 202, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  expect(records.find((r) => r['status'] === 401)).toBeDefined();
  const everything = lines.join('\n');
  // A JWT's signature part is unique to it: finding it anywhere would mean the token leaked.
  expect(everything).not.toContain(token.split('.')[2]);
  expect(everything).not.toContain('access_token=');
  expect(everything).not.toContain(secretPayload);
});

it('never writes the data or idempotency key of a publish Redis refused (an ioredis error carries the command arguments)', async () => {
  // Before: a WRONGTYPE or OOM reply logged `command.args` in full at error level: payload, key and all.
  const redis = await startRedis();
  const raw = new Redis(redis.url);
  const own: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (own.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
  const relayOnRedis = await startSecureRelay({ SOURCE: 'redis', REDIS_URL: redis.url }, createLogger('debug', sink));
  try {
    await raw.set('sse:wrongtype', 'not a stream');
    const token = await hsToken();
    const refused = async (body: object): Promise<number> => (await fetch(`${relayOnRedis.url}/publish`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    })).status;
    expect(await refused({ topic: 'wrongtype', data: 'payload-of-a-plain-xadd' })).toBe(503);
    expect(await refused({ topic: 'wrongtype', data: 'payload-of-the-script', id: 'key-of-the-script' })).toBe(503);
    await waitFor(() => own.filter((line) => line.includes('WRONGTYPE')).length === 2, 'both refusals logged with the reply');
    const logged = own.join('\n');
    for (const secret of ['payload-of-a-plain-xadd', 'payload-of-the-script', 'key-of-the-script']) expect(logged).not.toContain(secret);
    expect(logged).toMatch(/"args":"\[redacted: \d+ arguments\]"/);
  } finally {
    await relayOnRedis.stop();
    raw.disconnect();
    await redis.stop();
  }
});

it('logs a capacity refusal (503 too_many_connections) as a warning without a stack, not as an error', async () => {
  // Before: every refused stream wrote an error line with the RelayError's stack (about 1.3 KB), so a flood of refused
  // requests was also a flood of "errors" in the log.
  const own: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (own.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
  const full = await startSecureRelay({ AUTH_MODE: 'none', MAX_CONNECTIONS: '1' }, createLogger('debug', sink));
  const held = new AbortController();
  try {
    const open = await fetch(`${full.url}/events?topic=held`, { signal: held.signal });
    expect(open.status).toBe(200);
    expect((await fetch(`${full.url}/events?topic=refused`)).status).toBe(503);
    await waitFor(() => own.some((line) => line.includes('"too_many_connections"')), 'the refusal in the log');
    const refusal = JSON.parse(own.find((line) => line.includes('"too_many_connections"')) as string) as Record<string, unknown>;
    expect(refusal['level']).toBe(40);
    expect(JSON.stringify(refusal)).not.toContain('"stack"');
  } finally {
    held.abort();
    await full.stop();
  }
});
