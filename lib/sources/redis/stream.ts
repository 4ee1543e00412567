import type { Cluster, Redis } from 'ioredis';
import type { BroadcastSource, LiveFeed, LiveListener, OutgoingMessage, ReplayResult, SourceMemory, StoredMessage } from '../../source.js';
import { ServerLink } from './blocking-link.js';
import { answersPing, connected, openRedisConnection, retryOnStale, targetOf, withDeadline, type RedisClient } from './connection.js';
import { compareStreamIds, isStoredMessage, isStreamId, parseStreamEntry, type RawStreamEntry } from './entry.js';
import { RedisLiveFeed, type RedisFeedSettings } from './feed.js';
import { PartitionedFeed } from './partitioned-feed.js';
import { PartitionAgreement } from './partition-marker.js';
import { ReplicatedWriter, type ReplicationPolicy } from './replication.js';
import { readStreamInfo } from './stream-info.js';
import { StreamTtlRenewals } from './stream-ttl.js';
import { StreamKeys } from './stream-keys.js';
import { readPages } from './stream-pages.js';
import { appendCommand, type AppendCommand } from './stream-append.js';
import { memoryUsage, publishFailure } from './memory.js';

/** Settings of SOURCE=redis; functions/build-source.ts fills them from REDIS_* and MAX_MESSAGE_BYTES. */
export interface RedisStreamSettings extends RedisFeedSettings {
  /** Approximate entries kept per stream (`XADD … MAXLEN ~`). */
  maxLen: number;
  /** How long a publish idempotency key is remembered, seconds (lib/config FIXED_SETTINGS). */
  idempotencyTtlSeconds: number;
  /** REDIS_WAIT_REPLICAS / REDIS_WAIT_TIMEOUT_MS. Default: no WAIT. */
  replication?: ReplicationPolicy | undefined;
  /** A stream key expires this long after its last append (REDIS_STREAM_TTL_S); 0 = never. */
  streamTtlSeconds: number;
  /** Called when Redis refuses a publish with OOM (maxmemory reached under noeviction), for the metric. */
  onOutOfMemory?: (() => void) | undefined;
}

/** How long /readyz waits for PING, ms. */
const READY_TIMEOUT_MS = 1_000;

/**
 * Broadcast over Redis Streams: one stream per topic (`<prefix><topic>`, hash-tagged by partition in a cluster), entries
 * `event`, `data` and optional `key`, positions are stream ids. Every pod reads the same streams, so a cursor from any
 * pod resumes exactly on any other. See docs/redis.md for the topologies, key layout and failure behaviour.
 */
export class RedisStreamSource implements BroadcastSource {
  readonly delivery = 'broadcast';
  private readonly command: RedisClient;
  private readonly keys: StreamKeys;
  private readonly ttl: StreamTtlRenewals;
  private readonly replicated: { connection: RedisClient; writer: ReplicatedWriter } | undefined;
  private readonly feeds = new Set<LiveFeed>();
  /** On a cluster: REDIS_CLUSTER_PARTITIONS agrees with every other relay's and producer's (partition-marker.ts). */
  private readonly agreement: PartitionAgreement | undefined;

  constructor(private readonly settings: RedisStreamSettings) {
    const target = targetOf(settings);
    this.command = openRedisConnection(settings, 'command');
    this.keys = new StreamKeys(settings.keyPrefix, target.kind === 'cluster' ? target.partitions : undefined);
    this.agreement = target.kind === 'cluster'
      ? new PartitionAgreement(this.command as Cluster, settings.keyPrefix, target.partitions, (error) => settings.onConnectionError?.(error, 'command'))
      : undefined;
    this.ttl = new StreamTtlRenewals(settings.streamTtlSeconds);
    // A (re)connection may face a Redis without the keys renewed before (stream-ttl.ts, forget()).
    this.command.on('ready', () => this.ttl.forget());
    const policy = settings.replication;
    if (policy !== undefined && policy.replicas > 0) {
      const connection = openRedisConnection(settings, 'publish', policy.timeoutMs);
      connection.on('ready', () => this.ttl.forget());
      this.replicated = { connection, writer: new ReplicatedWriter(connection, policy) };
    }
  }

  private key(topic: string): string {
    return this.keys.stream(topic);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<StoredMessage> {
    const event = message.event ?? 'message';
    let id: string | null;
    try {
      // Decided once connected: a (re)connection forgets the renewals first (stream-ttl.ts, forget()).
      await connected(this.replicated?.connection ?? this.command);
      await this.agreement?.assert();
      const renewsTtl = this.ttl.due(topic);
      id = this.replicated === undefined ? await this.append(topic, event, message, renewsTtl) : await this.appendReplicated(topic, event, message, renewsTtl);
      if (renewsTtl) this.ttl.renewed(topic);
    } catch (error) {
      throw publishFailure(error, this.settings.onOutOfMemory);
    }
    if (id === null) throw new Error(`XADD to ${this.key(topic)} returned no id`);
    return { topic, position: id, event, data: message.data };
  }

  acceptsPosition(position: string): boolean {
    return isStreamId(position);
  }

  // Each append is one command: XADD, or a script that also renews the stream's TTL when due (see StreamTtlRenewals)
  // and, with an idempotency key, checks and sets the marker.
  // Both appends run once publish() has waited for their connection.
  private async append(topic: string, event: string, message: OutgoingMessage, renewTtl: boolean): Promise<string | null> {
    const reply = await this.command.call(...this.appendCommand(topic, event, message, renewTtl));
    return reply === null || reply === undefined ? null : String(reply);
  }

  private appendCommand(topic: string, event: string, message: OutgoingMessage, renewTtl: boolean): AppendCommand {
    return appendCommand(this.keys, topic, { event, data: message.data, key: message.key }, this.settings, renewTtl ? this.ttl.expiryArgument : 0);
  }

  // The same append, followed by WAIT on the publish connection (see ReplicatedWriter).
  private async appendReplicated(topic: string, event: string, message: OutgoingMessage, renewTtl: boolean): Promise<string | null> {
    const { writer } = this.replicated as NonNullable<RedisStreamSource['replicated']>;
    const reply = await writer.write((pipeline) => void pipeline.call(...this.appendCommand(topic, event, message, renewTtl)));
    return reply === null || reply === undefined ? null : String(reply);
  }

  /** `INFO memory`: used_memory and maxmemory, or undefined when Redis does not answer within a second. */
  memoryUsage(): Promise<SourceMemory | undefined> {
    return memoryUsage(this.command);
  }

  head(topic: string): Promise<string> {
    return retryOnStale(this.command, async () => {
      const redis = await connected(this.command);
      await this.agreement?.assert();
      const newest = await redis.xrevrange(this.key(topic), '+', '-', 'COUNT', 1);
      return newest[0]?.[0] ?? '0-0';
    });
  }

  /**
   * Entries after `after` up to `until`, at most `limit`, read in pages until they hold `maxBytes` (stream-pages.ts).
   * `gap` is true when an entry after `after` was trimmed or deleted (XINFO's max-deleted-entry-id is newer than the
   * cursor), or when more than `limit` entries follow it; then the newest `limit` up to `until` (as many as `maxBytes`
   * allows) are returned. `truncatedAt` when entries after the returned ones were left for the client's next request.
   * A cursor past `until` is asked about only once it is past the stream's newest entry too (see TopicFanout.replay):
   * the stream no longer holds what the client saw (the key expired or was deleted and nothing recreated it, or Redis
   * came back without its data), nor what followed it, so that is a gap; the entries up to `until` are older than the
   * cursor, so none is sent again. With `until` equal to `after` only XINFO is read, for the gap.
   */
  replay(topic: string, after: string, until: string, limit: number, maxBytes = Number.POSITIVE_INFINITY): Promise<ReplayResult> {
    return retryOnStale(this.command, () => this.replayOnce(topic, after, until, limit, maxBytes));
  }

  private async replayOnce(topic: string, after: string, until: string, limit: number, maxBytes: number): Promise<ReplayResult> {
    const order = compareStreamIds(until, after);
    if (order < 0) return { messages: [], gap: true };
    const redis = await connected(this.command);
    await this.agreement?.assert();
    const info = await readStreamInfo(redis, this.key(topic));
    // No key: the topic never had a message, or its stream expired (REDIS_STREAM_TTL_S) with whatever followed `after`.
    if (info === undefined) return { messages: [], gap: after !== '0-0' && after !== '0' };
    let gap = info.lostAfter(after);
    // Only the question whether `after` still names this stream's history (see BroadcastSource.replay).
    if (order === 0) return { messages: [], gap };
    const key = this.key(topic);
    const bound = { maxBytes, largestEntry: this.settings.maxMessageBytes };
    let { entries, truncatedAt } = await readPages(redis, key, { after, until, want: limit + 1, direction: 'after' }, bound);
    if (entries.length > limit) {
      gap = true;
      truncatedAt = undefined;
      entries = limit === 0 ? [] : (await readPages(redis, key, { after, until, want: limit, direction: 'newest' }, bound)).entries;
    }
    const { messages } = this.parsedReplay(topic, entries);
    return truncatedAt === undefined ? { messages, gap } : { messages, gap, truncatedAt };
  }

  private parsedReplay(topic: string, entries: RawStreamEntry[]): { messages: StoredMessage[] } {
    const messages: StoredMessage[] = [];
    for (const entry of entries) {
      const parsed = parseStreamEntry(topic, entry, this.settings.maxMessageBytes);
      if (isStoredMessage(parsed)) messages.push(parsed);
      else this.settings.onInvalidEntry?.(parsed);
    }
    return { messages };
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

  async isReady(): Promise<boolean> {
    if (!(await answersPing(this.command, READY_TIMEOUT_MS))) return false;
    if (this.agreement === undefined) return true;
    return withDeadline(READY_TIMEOUT_MS, this.agreement.assert()).then(() => true, () => false);
  }

  async close(): Promise<void> {
    await Promise.all([...this.feeds].map((feed) => feed.close()));
    this.feeds.clear();
    this.command.disconnect();
    this.replicated?.connection.disconnect();
  }
}
