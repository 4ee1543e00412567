import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventSource } from 'eventsource';
import type { RunningServer } from '../../functions/server.js';
import { publish, startRelay } from '../support/relay-server.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

/**
 * A stream that carries no event before the server ends it still tells the browser where it stands (id-only frames), so
 * what is published while the browser reconnects is not lost. Checked with the `eventsource` package, which follows the
 * WHATWG rule that a frame with an id and no data sets `lastEventId` without dispatching an event.
 */

let redis: TestRedis;
const relays: (RunningServer & { url: string })[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const relay of relays) await relay.stop();
  await redis?.stop();
});

// MAX_SESSION_MS (minimum 1 s) ends every stream quickly; RETRY_MS makes the browser wait ~1–3 s before it comes back.
const ENV = { MAX_SESSION_MS: '1000', RETRY_MS: '2000', HEARTBEAT_MS: '60000', SHUTDOWN_DRAIN_MS: '0', PUBLISH_RATE_PER_MINUTE: '0' };

describe.each([
  ['memory', () => ({})],
  ['redis', () => ({ SOURCE: 'redis', REDIS_URL: redis.url, REDIS_KEY_PREFIX: `quiet${Date.now()}:` })],
])('%s source', (_name, extra) => {
  it('a quiet stream ended by the server resumes exactly: what was published during the reconnect arrives', async () => {
    const relay = await startRelay({ ...ENV, ...extra() });
    relays.push(relay);
    await publish(relay.url, { topic: 'quiet', data: 'before the stream: never sent to it' });
    const es = new EventSource(`${relay.url}/events?topic=quiet`);
    const got: { data: string; id: string }[] = [];
    es.addEventListener('message', (e) => got.push({ data: e.data as string, id: e.lastEventId }));
    const opened = new Promise<void>((resolve) => (es.onopen = () => resolve()));
    const ended = new Promise<void>((resolve) => (es.onerror = () => resolve()));
    await opened;
    await ended; // the server ended the quiet stream (max session); the browser now waits its retry before reconnecting
    const away = await publish(relay.url, { topic: 'quiet', data: 'published while away' });
    expect(away.status).toBe(202);
    await waitFor(() => got.length > 0, 'the event published while away', { timeoutMs: 10_000, everyMs: 50 }).catch(() => undefined);
    es.close();
    expect(got.map((e) => e.data)).toEqual(['published while away']);
    expect(got[0]?.id).toBe(`quiet=${String(away.json['id'])}`);
  }, 20_000);
});
