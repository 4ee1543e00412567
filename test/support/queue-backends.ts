import { afterAll, beforeAll } from '@jest/globals';
import { Redis } from 'ioredis';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';
import { startRedis, type TestRedis } from './redis-server.js';

/** The two queue back ends a queue test runs against, for the whole file. */
export interface QueueBackends {
  redis: TestRedis;
  /** A plain client of `redis`, to look at the lists from outside. */
  raw: Redis;
  sqs: LocalSqs;
}

/** Starts a redis-server and the SQS emulator before the file's tests and stops them after; read the fields in tests. */
export function useQueueBackends(): QueueBackends {
  const backends = {} as QueueBackends;
  beforeAll(async () => {
    [backends.redis, backends.sqs] = await Promise.all([startRedis(), startLocalSqs()]);
    backends.raw = new Redis(backends.redis.url);
  });
  afterAll(async () => {
    backends.raw?.disconnect();
    await Promise.all([backends.redis?.stop(), backends.sqs?.stop()]);
  });
  return backends;
}
