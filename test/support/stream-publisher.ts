import type { Redis } from 'ioredis';

/** One record the publisher appended, with the stream id Redis gave it. */
export interface PublishedRecord {
  id: string;
  count: number;
  name: string;
}

/** A running publisher; stop() resolves once the last XADD has returned. */
export interface StreamPublisher {
  readonly published: PublishedRecord[];
  stop(): Promise<void>;
}

/**
 * Appends `record` events (`{name, count, timestamp}`, count 1, 2, 3 …) straight to the Redis stream `key` with XADD,
 * in the documented entry format (fields `event`, `data`), every `intervalMs` (default 50: about 20 a second).
 * Writing to Redis itself, not through POST /publish, keeps the sequence going while no relay process is up, as another
 * pod or the SQS bridge would. Names cycle through `names`. A failed XADD stops the publisher and fails stop().
 */
export function startStreamPublisher(redis: Redis, key: string, names: readonly string[], intervalMs = 50): StreamPublisher {
  const published: PublishedRecord[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const count = published.length + 1;
      const name = names[(count - 1) % names.length] ?? 'anonymous';
      const data = JSON.stringify({ name, count, timestamp: new Date().toISOString() });
      const id = await redis.xadd(key, '*', 'event', 'record', 'data', data);
      if (id === null) throw new Error(`XADD ${key} returned no id`);
      published.push({ id, count, name });
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    published,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
