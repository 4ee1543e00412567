import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { freePort } from '../support/redis-server.js';
import { hsToken, metric, startSecureRelay, type Relay } from './support.js';
import { waitFor } from '../support/wait-for.js';

/** Every refusal gives back what it took: 100 of each kind, then the whole MAX_CONNECTIONS is still there. */

const MAX = 4;
const REPEAT = 100;
const now = (): number => Math.floor(Date.now() / 1000);

let relay: Relay;
// The responses are kept too: undici closes a stream whose unread Response was garbage-collected.
let open: { controller: AbortController; response: Response }[] = [];

beforeAll(async () => {
  relay = await startSecureRelay({ MAX_CONNECTIONS: String(MAX), MAX_CONNECTIONS_PER_CLIENT: '1', TRUST_PROXY: 'true', MAX_TOPICS: '2' });
});
afterAll(async () => {
  open.forEach((o) => o.controller.abort());
  await relay.stop();
});

/** Opens `/events`, returns its status (and error code), and keeps a 200 stream open until `closeAll()`. */
async function subscribe(url: string, query: string, headers: Record<string, string>): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(`${url}/events?${query}`, { headers, signal: controller.signal });
  if (response.status === 200) {
    open.push({ controller, response });
    return '200';
  }
  const { error } = (await response.json()) as { error: string };
  return `${response.status} ${error}`;
}

function closeAll(): void {
  open.forEach((o) => o.controller.abort());
  open = [];
}

async function repeat(times: number, attempt: (i: number) => Promise<string>): Promise<Set<string>> {
  const outcomes = new Set<string>();
  for (let i = 0; i < times; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, times - i) }, (_, n) => attempt(i + n)));
    batch.forEach((o) => outcomes.add(o));
  }
  return outcomes;
}

/** Waits until the server has seen every aborted stream go (its close is asynchronous). */
async function openStreams(url: string, expected: number): Promise<number> {
  let value = NaN;
  await waitFor(async () => (value = await metric(url, 'sse_connections_open')) === expected, `${expected} open streams`, { timeoutMs: 5_000, everyMs: 50 })
    .catch(() => undefined);
  return value;
}

/**
 * The limiter's own count, as /metrics shows it: slots held against MAX_CONNECTIONS, and clients holding one against
 * MAX_CONNECTIONS_PER_CLIENT. sse_connections_open counts the hub's streams, so it read 0 while leaked slots kept everyone
 * out (issue #11); these read what the limits decide on.
 */
async function slotsHeld(url: string): Promise<{ slots: number; clients: number }> {
  return { slots: await metric(url, 'sse_connection_slots_held'), clients: await metric(url, 'sse_connection_slot_clients') };
}

/** MAX_CONNECTIONS streams from distinct clients all open: nothing was kept by a refusal. */
async function expectFullCapacity(url: string, token: string): Promise<void> {
  closeAll();
  expect(await openStreams(url, 0)).toBe(0);
  const statuses = await Promise.all(
    Array.from({ length: MAX }, (_, i) => subscribe(url, 'topic=a', { authorization: `Bearer ${token}`, 'x-forwarded-for': `198.51.100.${i + 1}` })),
  );
  expect(statuses).toEqual(Array(MAX).fill('200'));
  expect(await openStreams(url, MAX)).toBe(MAX);
  expect(await slotsHeld(url)).toEqual({ slots: MAX, clients: MAX });
  closeAll();
}

describe('each kind of refusal, 100 times', () => {
  const client = (i: number): Record<string, string> => ({ 'x-forwarded-for': `203.0.113.${(i % 200) + 1}` });

  it.each([
    ['400 invalid_topic', async () => ({ query: 'topic=', token: await hsToken() })],
    ['400 too_many_topics', async () => ({ query: 'topic=a,b,c', token: await hsToken() })],
    ['400 invalid_cursor', async () => ({ query: 'topic=a&lastEventId=a%3D1-2-3', token: await hsToken() })],
    ['401 unauthorized', async () => ({ query: 'topic=a', token: 'not-a-token' })],
    // Inside jose's clock tolerance (5 s) but expired: one rule, applied before a slot is taken.
    ['401 unauthorized', async () => ({ query: 'topic=a', token: await hsToken({}, now() - 2) })],
    ['403 forbidden', async () => ({ query: 'topic=a', token: await hsToken({ sse: { subscribe: ['other'] } }) })],
  ])('%s keeps no slot', async (expected, make) => {
    const { query, token } = await make();
    const outcomes = await repeat(REPEAT, (i) => subscribe(relay.url, query, { authorization: `Bearer ${token}`, ...client(i) }));
    expect([...outcomes]).toEqual([expected]);
    expect(await openStreams(relay.url, 0)).toBe(0);
    expect(await slotsHeld(relay.url)).toEqual({ slots: 0, clients: 0 });
    await expectFullCapacity(relay.url, await hsToken());
  });

  it('429 rate_limited (per client) keeps no slot', async () => {
    const token = await hsToken();
    const headers = { authorization: `Bearer ${token}`, 'x-forwarded-for': '192.0.2.1' };
    expect(await subscribe(relay.url, 'topic=a', headers)).toBe('200');
    const outcomes = await repeat(REPEAT, () => subscribe(relay.url, 'topic=a', headers));
    expect([...outcomes]).toEqual(['429 rate_limited']);
    await expectFullCapacity(relay.url, token);
  });

  it('503 too_many_connections keeps no slot', async () => {
    const token = await hsToken();
    for (let i = 0; i < MAX; i++) {
      expect(await subscribe(relay.url, 'topic=a', { authorization: `Bearer ${token}`, 'x-forwarded-for': `192.0.2.${i + 10}` })).toBe('200');
    }
    const outcomes = await repeat(REPEAT, (i) => subscribe(relay.url, 'topic=a', { authorization: `Bearer ${token}`, ...client(i) }));
    expect([...outcomes]).toEqual(['503 too_many_connections']);
    await expectFullCapacity(relay.url, token);
  });
});

it('503 source_unavailable (Redis down) 100 times keeps no slot: the next answer is still the source, not the limit', async () => {
  const down = await startSecureRelay({
    SOURCE: 'redis', REDIS_URL: `redis://127.0.0.1:${await freePort()}`, MAX_CONNECTIONS: '2', REDIS_BLOCK_MS: '200',
  });
  try {
    const token = await hsToken();
    // One at a time: a request holds its slot while it asks the source, so concurrent ones could meet the limit.
    const outcomes = new Set<string>();
    for (let i = 0; i < REPEAT; i++) {
      outcomes.add(await subscribe(down.url, 'topic=a', { authorization: `Bearer ${token}`, 'x-forwarded-for': `203.0.113.${i + 1}` }));
    }
    expect([...outcomes]).toEqual(['503 source_unavailable']);
    expect(await metric(down.url, 'sse_connections_open')).toBe(0);
    expect(await slotsHeld(down.url)).toEqual({ slots: 0, clients: 0 });
  } finally {
    await down.stop();
  }
});

describe('a client that leaves before its stream is answered', () => {
  const request = (token: string, client: string, topic = 'a'): string =>
    `GET /events?topic=${topic} HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${token}\r\nX-Forwarded-For: ${client}\r\n\r\n`;

  /** Sends `bytes` and leaves at once, the way given (a reset, a FIN), or after `afterMs`. */
  function sendAndLeave(bytes: string, how: 'reset' | 'fin' | number): Promise<void> {
    return new Promise((resolve) => {
      const socket = connect(relay.port, '127.0.0.1', () => {
        socket.write(bytes);
        if (how === 'reset') socket.resetAndDestroy();
        else if (how === 'fin') socket.end();
        else setTimeout(() => socket.destroy(), how);
        resolve();
      });
      socket.on('error', () => undefined);
    });
  }

  /**
   * The whole MAX_CONNECTIONS comes back within 10 s. The server may still be answering requests of clients that left
   * (a loaded host runs them late, each holding its slot until it sees its client gone), so this looks again; a slot
   * kept by a stream that never heard its client leave would stay taken until MAX_SESSION_MS (30 min).
   */
  async function expectCapacityBack(url: string, token: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    const attempt = async (): Promise<string[]> => {
      closeAll();
      await openStreams(url, 0);
      return Promise.all(
        Array.from({ length: MAX }, (_, i) => subscribe(url, 'topic=a', { authorization: `Bearer ${token}`, 'x-forwarded-for': `198.51.100.${i + 1}` })),
      );
    };
    let statuses = await attempt();
    while (statuses.some((status) => status !== '200') && Date.now() < deadline) statuses = await attempt();
    expect(statuses).toEqual(Array(MAX).fill('200'));
    closeAll();
  }

  // The close arrives while the request is being authorized: before the stream's session listens for it.
  it.each(['reset', 'fin', 5] as const)('gives its slot back (leaving by %s), 100 times', async (how) => {
    const token = await hsToken();
    for (let i = 0; i < REPEAT; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, n) => sendAndLeave(request(token, `203.0.113.${i + n + 1}`), how)));
    }
    await expectCapacityBack(relay.url, token);
  });

  // The second stream's response waits behind the first on the same connection; when the client leaves, both end.
  it('gives back the slots of two streams pipelined on one connection', async () => {
    const pipelining = await startSecureRelay({ MAX_CONNECTIONS: String(MAX), MAX_CONNECTIONS_PER_CLIENT: '2', TRUST_PROXY: 'true' });
    try {
      const token = await hsToken();
      // 10 rounds of 2 connections from 2 clients, each with 2 streams: all 4 slots taken, then the clients leave.
      for (let round = 0; round < 10; round++) {
        const sockets = [1, 2].map((n) => {
          const client = `198.18.${round}.${n}`;
          const socket = connect(pipelining.port, '127.0.0.1');
          socket.on('error', () => undefined);
          socket.write(request(token, client, 'a') + request(token, client, 'b'));
          return socket;
        });
        await waitFor(async () => (await metric(pipelining.url, 'sse_connections_open')) === MAX, 'the 4 pipelined streams to open');
        sockets.forEach((socket) => socket.destroy());
        expect(await openStreams(pipelining.url, 0)).toBe(0);
      }
      await expectCapacityBack(pipelining.url, token);
    } finally {
      await pipelining.stop();
    }
  });
});
