import type { Redis } from 'ioredis';
import { openRedisConnection, type RedisConnectionSettings } from './connection.js';

// A connection nobody used for this long is closed: a burst of topics does not leave its connections open for ever.
const IDLE_CLOSE_MS = 60_000;

/**
 * The blocking connections of SOURCE=redis-list in one process: at most `size`, opened when first needed and kept for
 * reuse. A topic's taker holds one while the topic has waiting subscribers; when more takers want one than there are,
 * they take turns (see `contended`), so the number of connections stays bounded whatever the number of topics.
 */
export class BlockingPool {
  private readonly idle = new Map<Redis, ReturnType<typeof setTimeout>>();
  private readonly all: Redis[] = [];
  private readonly queue: { resolve: (connection: Redis) => void; reject: (error: Error) => void }[] = [];
  private closed = false;

  constructor(private readonly settings: RedisConnectionSettings, readonly size: number) {}

  /** A connection for one taker's BLMOVEs; waits (FIFO) while all `size` are in use. */
  acquire(): Promise<Redis> {
    if (this.closed) return Promise.reject(new Error('the Redis list source is closed'));
    const ready = this.takeIdle() ?? this.open();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => this.queue.push({ resolve, reject }));
  }

  /** Gives a connection back: to the longest-waiting taker, else to the idle set. */
  release(connection: Redis): void {
    if (this.closed) return;
    const next = this.queue.shift();
    if (next !== undefined) next.resolve(connection);
    else {
      const timer = setTimeout(() => this.closeIdle(connection), IDLE_CLOSE_MS);
      timer.unref?.();
      this.idle.set(connection, timer);
    }
  }

  /** Whether some taker waits for a connection: holders then block briefly and pass theirs on after each take. */
  get contended(): boolean {
    return this.queue.length > 0;
  }

  /** Connections open now (metrics, tests). */
  get opened(): number {
    return this.all.length;
  }

  /** Disconnects every connection: a BLMOVE in flight fails, and so does every wait for a connection. */
  close(): void {
    this.closed = true;
    for (const timer of this.idle.values()) clearTimeout(timer);
    for (const connection of this.all) connection.disconnect();
    for (const waiting of this.queue.splice(0)) waiting.reject(new Error('the Redis list source is closed'));
  }

  private takeIdle(): Redis | undefined {
    const [connection, timer] = this.idle.entries().next().value ?? [];
    if (connection === undefined) return undefined;
    clearTimeout(timer);
    this.idle.delete(connection);
    return connection;
  }

  private closeIdle(connection: Redis): void {
    if (!this.idle.delete(connection)) return;
    this.all.splice(this.all.indexOf(connection), 1);
    connection.disconnect();
  }

  private open(): Redis | undefined {
    if (this.all.length >= this.size) return undefined;
    const connection = openRedisConnection(this.settings, 'blocking') as Redis;
    this.all.push(connection);
    return connection;
  }
}
