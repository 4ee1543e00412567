import type { Cluster, Redis } from 'ioredis';
import { openNodeConnection, openRedisConnection, targetOf, withDeadline, type RedisConnectionSettings } from './connection.js';
import { keySlot } from './stream-keys.js';

/**
 * The connection a live feed blocks on, and how to reach the same server with a command. Outside a cluster it is one
 * connection for the process's life (ioredis follows a Sentinel failover by itself). In a cluster it is a plain
 * connection to the primary that owns the partition's slot, replaced when the slot moves (reshard) or its primary
 * fails over: ioredis's Cluster would follow that too, but a blocked connection must be one whose client id is known,
 * so that `CLIENT UNBLOCK` can end its read when a topic joins.
 */
export interface BlockingLink {
  /** The connection reads go out on now; replaced after a failure that moved the slot. */
  readonly connection: Redis;
  /** Calls `listener` with the current connection and every replacement (to learn its client id). */
  watch(listener: (connection: Redis) => void): void;
  /** `CLIENT UNBLOCK <id>` through a command connection to the server the blocking connection is on. */
  unblock(id: number): Promise<number>;
  /** After a failed read: follows a MOVED, or asks the cluster who owns the slot now. */
  recover(error: unknown): Promise<void>;
  close(): void;
}

/** One server or a Sentinel-managed primary: one blocking connection, unblocked through the command connection. */
export class ServerLink implements BlockingLink {
  readonly connection: Redis;

  constructor(settings: RedisConnectionSettings, private readonly command: Redis) {
    this.connection = openRedisConnection(settings, 'blocking') as Redis;
  }

  watch(listener: (connection: Redis) => void): void {
    listener(this.connection);
  }

  async unblock(id: number): Promise<number> {
    return Number(await this.command.client('UNBLOCK', id));
  }

  async recover(): Promise<void> {}

  close(): void {
    this.connection.disconnect();
  }
}

const REFRESH_TIMEOUT_MS = 2_000;

/** The blocking connection of one cluster partition (every key of it hashes to `tag`'s slot). */
export class ClusterPartitionLink implements BlockingLink {
  private current: Redis;
  private node: string;
  private readonly listeners: ((connection: Redis) => void)[] = [];
  private readonly slot: number;

  constructor(private readonly settings: RedisConnectionSettings, private readonly command: Cluster, tag: string) {
    this.slot = keySlot(`{${tag}}`);
    this.node = this.owner();
    this.current = this.open(this.node);
  }

  get connection(): Redis {
    return this.current;
  }

  watch(listener: (connection: Redis) => void): void {
    this.listeners.push(listener);
    listener(this.current);
  }

  async unblock(id: number): Promise<number> {
    const node = this.command.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === this.node);
    return node === undefined ? 0 : Number(await node.client('UNBLOCK', id));
  }

  async recover(error: unknown): Promise<void> {
    const moved = /^MOVED \d+ (\S+)$/.exec(String((error as Error)?.message));
    if (moved?.[1] === undefined) {
      // A dead primary, a failover or CLUSTERDOWN: ask the cluster for the slot's owner now.
      await withDeadline(REFRESH_TIMEOUT_MS, new Promise<void>((resolve, reject) => this.command.refreshSlotsCache((e) => (e ? reject(e) : resolve()))))
        .catch(() => undefined);
    }
    const owner = moved?.[1] ?? this.owner();
    if (owner === this.node) return;
    this.current.disconnect();
    this.node = owner;
    this.current = this.open(owner);
    for (const listener of this.listeners) listener(this.current);
  }

  close(): void {
    this.current.disconnect();
  }

  // The primary serving the slot in the cluster client's map, else the first configured node (a MOVED corrects it).
  private owner(): string {
    const known = this.command.slots[this.slot]?.[0];
    if (known !== undefined) return known;
    const target = targetOf(this.settings);
    const first = target.kind === 'cluster' ? target.nodes[0] : undefined;
    return first === undefined ? '127.0.0.1:6379' : `${first.host}:${first.port}`;
  }

  private open(node: string): Redis {
    const at = node.lastIndexOf(':');
    return openNodeConnection(this.settings, node.slice(0, at), Number(node.slice(at + 1)), 'blocking');
  }
}
