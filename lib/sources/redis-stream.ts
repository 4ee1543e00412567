import type { Redis } from 'ioredis';
import type { BroadcastSource, LiveFeed, LiveListener, OutgoingMessage, ReplayResult, StoredMessage } from '../source.js';
import { answersPing, connected, openRedisConnection } from './redis-connection.js';
import { compareStreamIds, isStoredMessage, isStreamId, parseStreamEntry, type RawStreamEntry } from './redis-entry.js';
import { RedisLiveFeed, type RedisFeedSettings } from './redis-feed.js';
import { readStreamInfo } from './redis-stream-info.js';

/** Settings of SOURCE=redis; functions/build-source.ts fills them from REDIS_* and MAX_MESSAGE_BYTES. */
export interface RedisStreamSettings extends RedisFeedSettings {
  /** Approximate entries kept per stream (`XADD … MAXLEN ~`). */
  maxLen: number;
  /** How long a publish idempotency key is remembered, seconds. Default 86400 (one day). */
  idempotencyTtlSeconds?: number | undefined;
}

/** How long /readyz waits for PING, ms. */
const READY_TIMEOUT_MS = 1_000;

// The check and the append are one atomic step: two publishes with the same key can never both append.
const PUBLISH_ONCE = `
local earlier = redis.call('GET', KEYS[2])
if earlier then return earlier end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[3], 'data', ARGV[4], 'key', ARGV[5])
redis.call('SET', KEYS[2], id, 'EX', ARGV[2])
return id`;

/**
 * Broadcast over Redis Streams: one stream per topic (`<prefix><topic>`), entries `event`, `data` and optional `key`,
 * positions are stream ids. Every pod reads the same streams, so a cursor from any pod resumes exactly on any other.
 * See docs/redis.md for the key layout and failure behaviour.
 */
export class RedisStreamSource implements BroadcastSource {
  readonly delivery = 'broadcast';
  private readonly command: Redis;
  private readonly feeds = new Set<RedisLiveFeed>();

  constructor(private readonly settings: RedisStreamSettings) {
    this.command = openRedisConnection(settings, 'command');
  }

  private key(topic: string): string {
    return this.settings.keyPrefix + topic;
  }

  async publish(topic: string, message: OutgoingMessage): Promise<StoredMessage> {
    const event = message.event ?? 'message';
    const { maxLen, keyPrefix, idempotencyTtlSeconds = 86_400 } = this.settings;
    const redis = await connected(this.command);
    let id: string | null;
    if (message.key === undefined) {
      id = await redis.xadd(this.key(topic), 'MAXLEN', '~', maxLen, '*', 'event', event, 'data', message.data);
    } else {
      const marker = `${keyPrefix}key#${topic}#${message.key}`;
      id = String(await redis.eval(PUBLISH_ONCE, 2, this.key(topic), marker, maxLen, idempotencyTtlSeconds, event, message.data, message.key));
    }
    if (id === null) throw new Error(`XADD to ${this.key(topic)} returned no id`);
    return { topic, position: id, event, data: message.data };
  }

  acceptsPosition(position: string): boolean {
    return isStreamId(position);
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
    const feed = new RedisLiveFeed(this.command, this.settings, listener, onError);
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
  }
}
