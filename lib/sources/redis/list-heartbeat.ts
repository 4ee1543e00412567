import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ADD_OVER_MAXMEMORY_SCRIPT, BEAT_OVER_MAXMEMORY_SCRIPT, type ListKeys } from './list-keys.js';
import { isOutOfMemory } from './memory.js';

/**
 * The liveness of one relay process in SOURCE=redis-list: a heartbeat key with a TTL and, in the same MULTI every beat,
 * the registration of the processing lists of the topics it takes from. A process paused past its TTL, whose lists a
 * recovery pass moved back and unregistered, is registered again the moment it runs, so its lists are never stranded.
 * In a cluster that is one MULTI per topic (its slot), and the topic joins the set of topics recovery passes visit.
 */
export class ListHeartbeat {
  /** Names the process's processing lists and heartbeat; the first part of every handle it issues. */
  readonly processId = randomUUID();
  private readonly topics = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly command: Redis, private readonly keys: ListKeys, private readonly ttlMs: number) {}

  /** Registers `topic`'s processing list now (rejects when Redis did not take it) and in every beat from now on. */
  async join(topic: string): Promise<void> {
    this.topics.add(topic);
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.beat([...this.topics]).catch(() => undefined), this.ttlMs / 3);
      this.timer.unref?.();
    }
    await this.beat([topic]);
  }

  /** Stops registering `topic` (its taker unregisters the list itself, see HAND_BACK_SCRIPT). */
  leave(topic: string): void {
    this.topics.delete(topic);
  }

  /** The process is closing: no more beats, and the heartbeats go, so recovery passes take over at once. */
  async end(topics: readonly string[]): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const group of this.keys.beatGroups(topics, this.processId)) await this.command.del(group.heartbeat);
  }

  private beat(topics: readonly string[]): Promise<unknown> {
    return Promise.all(this.keys.beatGroups(topics, this.processId).map(async (group) => {
      await this.register(group).catch(async (error: unknown) => {
        // A Redis over maxmemory refuses the MULTI; without a heartbeat nothing could be taken to drain it.
        if (!isOutOfMemory(error)) throw error;
        await this.command.eval(BEAT_OVER_MAXMEMORY_SCRIPT, 2, group.heartbeat, group.registry, this.ttlMs, ...group.processing);
      });
      const topicsKey = this.keys.topics;
      if (topicsKey === undefined) return;
      await this.command.sadd(topicsKey, group.topic).catch(async (error: unknown) => {
        if (!isOutOfMemory(error)) throw error;
        await this.command.eval(ADD_OVER_MAXMEMORY_SCRIPT, 1, topicsKey, group.topic);
      });
    }));
  }

  private async register(group: { heartbeat: string; registry: string; processing: string[] }): Promise<void> {
    const multi = this.command.multi().set(group.heartbeat, '1', 'PX', this.ttlMs).sadd(group.registry, ...group.processing);
    const replies = await multi.exec();
    const failed = replies?.find(([error]) => error !== null)?.[0];
    if (replies === null || failed) throw failed ?? new Error('the heartbeat MULTI was aborted');
  }
}
