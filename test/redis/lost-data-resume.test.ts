import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { FIXED_SETTINGS } from '../../lib/config/index.js';
import { Hub } from '../../lib/engine/hub.js';
import { runSession, type SessionContext } from '../../lib/engine/session.js';
import { TopicFanout } from '../../lib/engine/topic-fanout.js';
import { silentLogger } from '../../lib/logger.js';
import { Metrics } from '../../lib/metrics.js';
import { RedisStreamSource } from '../../lib/sources/redis/stream.js';
import { RecordingSink } from '../support/recording-sink.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { waitFor } from '../support/wait-for.js';

// A Redis that came back without its data numbers new entries past every cursor of before (ids are clock-based). A client
// resuming with such a cursor on a process that starts the topic's subscription then stands "ahead" of it; if an entry
// is published between the subscription's head read and the check of that cursor, the cursor looked merely ahead of the
// feed, and the client silently missed everything Redis lost after its cursor (seen from outside: a client mid-replay of
// 3,000 entries got the new entries and no relay.reset, once in ten runs of a kill + restart without data).

let redis: TestRedis;
let raw: Redis;
let source: RedisStreamSource;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
  source = new RedisStreamSource({
    url: redis.url, keyPrefix: 'lost:', maxLen: 10_000, blockMs: 1_000, maxMessageBytes: 1_000,
    idempotencyTtlSeconds: FIXED_SETTINGS.redisIdempotencyTtlSeconds, streamTtlSeconds: 0,
  });
});

afterAll(async () => {
  await source.close();
  raw.disconnect();
  await redis.stop();
});

const OPTIONS = { heartbeatMs: 15_000, retryMs: 2_000, connectionBufferBytes: 65_536, sessionIdleMs: 0 };

describe('resuming with a cursor from before Redis lost its data', () => {
  test('replay up to the cursor itself reads nothing and says whether the cursor still names the stream', async () => {
    const kept = [];
    for (let i = 0; i < 3; i++) kept.push((await source.publish('kept', { data: `k${i}` })).position);
    expect(await source.replay('kept', kept[1] as string, kept[1] as string, 10)).toEqual({ messages: [], gap: false });
    const lost = [];
    for (let i = 0; i < 3; i++) lost.push((await source.publish('gone', { data: `g${i}` })).position);
    await raw.del('lost:gone');
    await source.publish('gone', { data: 'new' });
    expect(await source.replay('gone', lost[1] as string, lost[1] as string, 10)).toEqual({ messages: [], gap: true });
  });

  test('a client ahead of the new subscription gets relay.reset even when an entry lands before its cursor is checked', async () => {
    const old = [];
    for (let i = 0; i < 5; i++) old.push((await source.publish('t', { data: `old${i}` })).position);
    // Redis loses the stream (a restart without data); the client still holds old[2] and never saw old[3], old[4].
    await raw.del('lost:t');
    // The second head() of a topic, the check of a cursor past the subscription, comes after a new publish.
    let heads = 0;
    const racing = Object.assign(Object.create(source) as RedisStreamSource, {
      head: async (topic: string): Promise<string> => {
        heads += 1;
        if (heads === 2) await source.publish(topic, { data: 'new0' });
        return source.head(topic);
      },
    });
    const metrics = new Metrics();
    const fanout = new TopicFanout(racing, metrics, silentLogger);
    const hub = new Hub(OPTIONS, metrics, silentLogger, fanout);
    const context: SessionContext = { hub, fanout, metrics, logger: silentLogger, retryMs: 2_000, replayMax: 100 };
    const sink = new RecordingSink();
    void runSession(context, racing, { topics: ['t'], cursor: new Map([['t', old[2] as string]]), endsAt: Date.now() + 60_000, endReason: 'max-session' }, sink);
    try {
      await waitFor(() => sink.text.includes('data: new0'), 'the new entry to arrive', { timeoutMs: 5_000, everyMs: 10 });
      expect(heads).toBe(2);
      expect(sink.text).toContain('event: relay.reset');
      expect(sink.text.indexOf('event: relay.reset')).toBeLessThan(sink.text.indexOf('data: new0'));
    } finally {
      await hub.close();
    }
  });
});
