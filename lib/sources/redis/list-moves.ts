import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connected, dropConnection, pause, withDeadline } from './connection.js';
import { isOutOfMemory } from './memory.js';
import { ACK_MARKER_TTL_MS, ACK_ONCE_SCRIPT, HAND_BACK_SCRIPT, RELEASE_SCRIPT, TAKE_SOME_OVER_MAXMEMORY_SCRIPT, TAKE_SOME_SCRIPT, type ListKeys } from './list-keys.js';

const DEADLINE_GRACE_MS = 1_500;
// Between takes that found nothing while Redis is over maxmemory (no blocking read is allowed then).
const FULL_REDIS_PAUSE_MS = 250;

/** The SHA-1 of an item, hex: the part of its handle that finds it in a processing list (ACK_BY_HASHES_SCRIPT). */
export function sha1(item: Buffer): string {
  return createHash('sha1').update(item).digest('hex');
}

/**
 * The Redis commands on one topic's queue and one process's processing list of it (both in the topic's slot in a
 * cluster). Moves go out on a blocking connection of the pool; everything else on the command connection.
 */
export class ListMoves {
  readonly queue: string;
  readonly processing: string;

  constructor(private readonly command: Redis, private readonly keys: ListKeys, private readonly topic: string, processId: string) {
    this.queue = keys.queue(topic);
    this.processing = keys.processing(topic, processId);
  }

  /**
   * One take: `BLMOVE` waiting up to `waitMs`, or up to `count` items of a backlog at once. A Redis over maxmemory
   * (noeviction) refuses both; delivering is what frees it, so the take then goes through a script allowed over
   * maxmemory, without blocking, and an empty one waits a little instead of a blocking read.
   */
  async take(connection: Redis, how: { waitMs: number } | { count: number }): Promise<Buffer[]> {
    try {
      return 'count' in how ? await this.takeSome(connection, how.count) : await this.takeOne(connection, how.waitMs);
    } catch (error) {
      if (!isOutOfMemory(error)) throw error;
      const items = await this.takeSomeOverMaxmemory(connection, 'count' in how ? how.count : 1);
      if (items.length === 0) await pause(Math.min('waitMs' in how ? how.waitMs : FULL_REDIS_PAUSE_MS, FULL_REDIS_PAUSE_MS));
      return items;
    }
  }

  /**
   * `BLMOVE` the oldest item, waiting up to `waitMs`. Bounded even when Redis is paused: after the deadline the
   * connection is dropped, so a late reply can never be matched to a newer command (the item, if moved, is an orphan).
   */
  private async takeOne(connection: Redis, waitMs: number): Promise<Buffer[]> {
    await connected(connection);
    const move = connection.blmoveBuffer(this.queue, this.processing, 'RIGHT', 'LEFT', waitMs / 1000);
    const item = await withDeadline(waitMs + DEADLINE_GRACE_MS, move, () => dropConnection(connection));
    return item === null ? [] : [item];
  }

  /** Up to `count` of the oldest items in one script, without waiting (a backlog). */
  private async takeSome(connection: Redis, count: number): Promise<Buffer[]> {
    await connected(connection);
    const move = connection.callBuffer('EVAL', [TAKE_SOME_SCRIPT, 2, this.queue, this.processing, count]) as Promise<Buffer[]>;
    return withDeadline(DEADLINE_GRACE_MS, move, () => dropConnection(connection));
  }

  /** takeSome for a Redis over maxmemory, which refuses BLMOVE and LMOVE (TAKE_SOME_OVER_MAXMEMORY_SCRIPT, Redis 7). */
  private async takeSomeOverMaxmemory(connection: Redis, count: number): Promise<Buffer[]> {
    await connected(connection);
    const move = connection.callBuffer('EVAL', [TAKE_SOME_OVER_MAXMEMORY_SCRIPT, 2, this.queue, this.processing, count]) as Promise<Buffer[]>;
    return withDeadline(DEADLINE_GRACE_MS, move, () => dropConnection(connection));
  }

  remove(item: Buffer): Promise<unknown> {
    return this.command.lrem(this.processing, 1, item);
  }

  /** Removes an item the browser acknowledged by `handlePart`, unless that handle was acknowledged already (ACK_ONCE_SCRIPT). */
  removeAcknowledged(item: Buffer, handlePart: string): Promise<unknown> {
    return this.command.eval(ACK_ONCE_SCRIPT, 2, this.processing, this.keys.ackMarker(this.topic, handlePart), item, ACK_MARKER_TTL_MS);
  }

  /** Back to the consuming end of the queue, only if still in the processing list (RELEASE_SCRIPT). */
  putBack(item: Buffer): Promise<unknown> {
    return this.command.eval(RELEASE_SCRIPT, 2, this.processing, this.queue, item);
  }

  async holds(item: Buffer): Promise<boolean> {
    return (await this.command.lpos(this.processing, item)) !== null;
  }

  /** Moves an item that is not in the documented format to `#invalid`, for a person to look at. */
  async setAside(item: Buffer): Promise<void> {
    await this.command.multi().lrem(this.processing, 1, item).lpush(this.keys.invalid(this.topic), item).exec();
  }

  /** Everything in the processing list back to the queue; `unregister` also takes it out of the registry. */
  async handBack(unregister: boolean): Promise<void> {
    await this.command.eval(HAND_BACK_SCRIPT, 3, this.processing, this.queue, this.keys.registry(this.topic), unregister ? '1' : '0');
  }

  /** Items in the processing list beyond those `counts` accounts for (by SHA-1): taken, but never handed out. */
  async uncounted(counts: ReadonlyMap<string, number>): Promise<Buffer[]> {
    const known = new Map(counts);
    const found: Buffer[] = [];
    for (const item of await this.command.lrangeBuffer(this.processing, 0, -1)) {
      const sha = sha1(item);
      const count = known.get(sha) ?? 0;
      if (count > 0) known.set(sha, count - 1);
      else found.push(item);
    }
    return found;
  }
}
