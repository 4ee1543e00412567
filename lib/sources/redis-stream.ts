import type { Cluster, Redis } from 'ioredis';
import type { BroadcastSource, LiveFeed, LiveListener, OutgoingMessage, ReplayResult, StoredMessage } from '../source.js';
import { ServerLink } from './redis-blocking-link.js';
import { answersPing, connected, openRedisConnection, targetOf, type RedisClient } from './redis-connection.js';
import { compareStreamIds, isStoredMessage, isStreamId, parseStreamEntry, type RawStreamEntry } from './redis-entry.js';
import { RedisLiveFeed, type RedisFeedSettings } from './redis-feed.js';
import { PartitionedFeed } from './redis-partitioned-feed.js';
import { ReplicatedWriter, type ReplicationPolicy } from './redis-replication.js';
import { readStreamInfo } from './redis-stream-info.js';
import { StreamKeys } from './redis-stream-keys.js';

/** Settings of SOURCE=redis; functions/build-source.ts fills them from REDIS_* and MAX_MESSAGE_BYTES. */
export interface RedisStreamSettings extends RedisFeedSettings {
  /** Approximate entries kept per stream (`XADD … MAXLEN ~`). */
  maxLen: number;
  /** How long a publish idempotency key is remembered, seconds. Default 86400 (one day). */
  idempotencyTtlSeconds?: number | undefined;
  /** REDIS_WAIT_REPLICAS / REDIS_WAIT_TIMEOUT_MS. Default: no WAIT. */
  replication?: ReplicationPolicy | undefined;
}

/** How long /readyz waits for PING, ms. */
const READY_TIMEOUT_MS = 1_000;

// The check and the append are one atomic step: two publishes with the same key can never both append. KEYS: stream,
// marker. ARGV: maxlen, ttl seconds, event, data, key. Returns the stream id (the first one for a repeated key).
export const PUBLISH_ONCE_SCRIPT = `
local earlier = redis.call('GET', KEYS[2])
if earlier then return earlier end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[3], 'data', ARGV[4], 'key', ARGV[5])
redis.call('SET', KEYS[2], id, 'EX', ARGV[2])
return id`;

/**
 * Broadcast over Redis Streams: one stream per topic (`<prefix><topic>`, hash-tagged by partition in a cluster), entries
 * `event`, `data` and optional `key`, positions are stream ids. Every pod reads the same streams, so a cursor from any
 * pod resumes exactly on any other. See docs/redis.md for the topologies, key layout and failure behaviour.
 */
export class RedisStreamSource implements BroadcastSource {
  readonly delivery = 'broadcast';
  private readonly command: RedisClient;
  private readonly keys: StreamKeys;
  private readonly replicated: { connection: RedisClient; writer: ReplicatedWriter } | undefined;
  private readonly feeds = new Set<LiveFeed>();

  constructor(private readonly settings: RedisStreamSettings) {
    const target = targetOf(settings);
    this.command = openRedisConnection(settings, 'command');
    this.keys = new StreamKeys(settings.keyPrefix, target.kind === 'cluster' ? target.partitions : undefined);
    const policy = settings.replication;
    if (policy !== undefined && policy.replicas > 0) {
      const connection = openRedisConnection(settings, 'publish', policy.timeoutMs);
      this.replicated = { connection, writer: new ReplicatedWriter(connection, policy) };
    }
  }

  private key(topic: string): string {
    return this.keys.stream(topic);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<StoredMessage> {
    const event = message.event ?? 'message';
    const id = this.replicated === undefined ? await this.append(topic, event, message) : await this.appendReplicated(topic, event, message);
    if (id === null) throw new Error(`XADD to ${this.key(topic)} returned no id`);
    return { topic, position: id, event, data: message.data };
  }

  acceptsPosition(position: string): boolean {
    return isStreamId(position);
  }

  private async append(topic: string, event: string, message: OutgoingMessage): Promise<string | null> {
    const { maxLen, idempotencyTtlSeconds = 86_400 } = this.settings;
    const redis = await connected(this.command);
    if (message.key === undefined) {
      return redis.xadd(this.key(topic), 'MAXLEN', '~', maxLen, '*', 'event', event, 'data', message.data);
    }
    const marker = this.keys.marker(topic, message.key);
    return String(await redis.eval(PUBLISH_ONCE_SCRIPT, 2, this.key(topic), marker, maxLen, idempotencyTtlSeconds, event, message.data, message.key));
  }

  // The same append, followed by WAIT on the publish connection (see ReplicatedWriter).
  private async appendReplicated(topic: string, event: string, message: OutgoingMessage): Promise<string | null> {
    const { maxLen, idempotencyTtlSeconds = 86_400 } = this.settings;
    const { connection, writer } = this.replicated as NonNullable<RedisStreamSource['replicated']>;
    await connected(connection);
    const key = message.key;
    const reply = await writer.write((pipeline) => {
      if (key === undefined) pipeline.xadd(this.key(topic), 'MAXLEN', '~', maxLen, '*', 'event', event, 'data', message.data);
      else pipeline.eval(PUBLISH_ONCE_SCRIPT, 2, this.key(topic), this.keys.marker(topic, key), maxLen, idempotencyTtlSeconds, event, message.data, key);
    });
    return reply === null || reply === undefined ? null : String(reply);
  }

  async head(topic: string): Promise<string> {
    const redis = await connected(this.command);
    const newest = await redis.xrevrange(this.key(topic), '+', '-', 'COUNT', 1);
    return newest[0]?.[0] ?? '0-0';
  }

  /**
   * Entries after `after` up to `until`, at most `limit`. `gap` is true when an entry after `after` was trimmed or
   * deleted (XINFO's max-deleted-entry-id is newer than the cursor), or when more than `limit` entries follow it; then
   * the newest `limit` up to `until` are returned.
   */
  async replay(topic: string, after: string, until: string, limit: number): Promise<ReplayResult> {
    if (compareStreamIds(until, after) <= 0) return { messages: [], gap: false };
    const redis = await connected(this.command);
    const info = await readStreamInfo(redis, this.key(topic));
    if (info === undefined) return { messages: [], gap: false };
    let gap = info.lostAfter(after);
    const key = this.key(topic);
    let entries = (await redis.xrangeBuffer(key, `(${after}`, until, 'COUNT', limit + 1)) as RawStreamEntry[];
    if (entries.length > limit) {
      gap = true;
      entries = limit === 0 ? [] : ((await redis.xrevrangeBuffer(key, until, `(${after}`, 'COUNT', limit)) as RawStreamEntry[]).reverse();
    }
    const messages: StoredMessage[] = [];
    for (const entry of entries) {
      const parsed = parseStreamEntry(topic, entry, this.settings.maxMessageBytes);
      if (isStoredMessage(parsed)) messages.push(parsed);
      else this.settings.onInvalidEntry?.(parsed);
    }
    return { messages, gap };
  }

  openFeed(listener: LiveListener, onError: (error: unknown) => void): LiveFeed {
    const feed = this.keys.partitions === undefined
      ? new RedisLiveFeed(this.command, this.keys, new ServerLink(this.settings, this.command as Redis), this.settings, listener, onError)
      : new PartitionedFeed(this.command as Cluster, this.keys, this.settings, listener, onError);
    this.feeds.add(feed);
    return {
      add: (topic, after) => feed.add(topic, after),
      remove: (topic) => feed.remove(topic),
      close: async () => {
        this.feeds.delete(feed);
        await feed.close();
      },
    };
  }

  isReady(): Promise<boolean> {
    return answersPing(this.command, READY_TIMEOUT_MS);
  }

  async close(): Promise<void> {
    await Promise.all([...this.feeds].map((feed) => feed.close()));
    this.feeds.clear();
    this.command.disconnect();
    this.replicated?.connection.disconnect();
  }
}
