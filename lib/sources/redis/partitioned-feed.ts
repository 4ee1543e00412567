import type { Cluster } from 'ioredis';
import type { LiveFeed, LiveListener } from '../../source.js';
import { ClusterPartitionLink } from './blocking-link.js';
import { RedisLiveFeed, type RedisFeedSettings } from './feed.js';
import type { StreamKeys } from './stream-keys.js';

/**
 * The live feed in a Redis Cluster: one RedisLiveFeed (one blocking connection, one `XREAD BLOCK` over all of its
 * topics) per partition that has topics, so a process holds at most REDIS_CLUSTER_PARTITIONS blocking connections
 * however many topics and subscribers it serves. Partitions are opened on first use and kept until close().
 */
export class PartitionedFeed implements LiveFeed {
  private readonly feeds = new Map<number, RedisLiveFeed>();

  constructor(
    private readonly command: Cluster,
    private readonly keys: StreamKeys,
    private readonly settings: RedisFeedSettings,
    private readonly listener: LiveListener,
    private readonly onError: (error: unknown) => void,
  ) {}

  add(topic: string, after: string): void {
    this.partition(topic).add(topic, after);
  }

  remove(topic: string): void {
    this.feeds.get(this.keys.partitionOf(topic))?.remove(topic);
  }

  async close(): Promise<void> {
    await Promise.all([...this.feeds.values()].map((feed) => feed.close()));
    this.feeds.clear();
  }

  /** Partitions with an open blocking connection (for tests and metrics). */
  get openPartitions(): number {
    return this.feeds.size;
  }

  private partition(topic: string): RedisLiveFeed {
    const index = this.keys.partitionOf(topic);
    let feed = this.feeds.get(index);
    if (feed === undefined) {
      const link = new ClusterPartitionLink(this.settings, this.command, this.keys.tagOf(index) as string);
      feed = new RedisLiveFeed(this.command, this.keys, link, this.settings, this.listener, this.onError);
      this.feeds.set(index, feed);
    }
    return feed;
  }
}
