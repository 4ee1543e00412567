import type { Redis } from 'ioredis';

// One script, so an item moving from a processing list back to its queue is never counted twice (or not at all).
const COUNT = "local n = redis.call('LLEN', KEYS[1]) for _, k in ipairs(redis.call('KEYS', ARGV[1])) do n = n + redis.call('LLEN', k) end return n";

/** Items of a redis-list topic still in Redis: its queue plus every consumer's processing list, read atomically. */
export async function listItems(redis: Redis, topic: string, prefix = 'sse:'): Promise<number> {
  return Number(await redis.eval(COUNT, 1, `${prefix}q:${topic}`, `${prefix}q:${topic}#processing:*`));
}
