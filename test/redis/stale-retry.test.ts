import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { MaxRetriesPerRequestError } from 'ioredis/built/errors/index.js';
import { retryOnStale } from '../../lib/sources/redis/connection.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

// A command sent on a connection that died unseen fails with ioredis's MaxRetriesPerRequestError (the relay sets
// maxRetriesPerRequest to 0); an idempotent command is then sent once more on the new connection. ioredis names its
// errors after their class, and the Lambda bundle is minified: there the class is called something like `Fr`. (With the
// connection still up, the retry waits out the reconnection it expects, 2 s.)
class Fr extends MaxRetriesPerRequestError {}

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  await client.ping();
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

test.each([
  ['as ioredis names it', new MaxRetriesPerRequestError(0)],
  ['as the minified Lambda bundle names it', new Fr(0)],
])('a command that hit MaxRetriesPerRequestError (%s) is sent once more', async (_how, error) => {
  let calls = 0;
  const answer = await retryOnStale(client, async () => {
    calls += 1;
    if (calls === 1) throw error;
    return client.ping();
  });
  expect([answer, calls]).toEqual(['PONG', 2]);
});
