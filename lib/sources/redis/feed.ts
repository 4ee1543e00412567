import type { Redis } from 'ioredis';
import type { LiveFeed, LiveListener } from '../../source.js';
import type { BlockingLink } from './blocking-link.js';
import { connected, dropConnection, pause, withDeadline, type RedisClient, type RedisConnectionSettings } from './connection.js';
import { compareStreamIds, isStoredMessage, parseStreamEntry, type InvalidEntryListener, type RawStreamEntry } from './entry.js';
import type { StreamKeys } from './stream-keys.js';

/** Settings of the live feed (see RedisStreamSettings). */
export interface RedisFeedSettings extends RedisConnectionSettings {
  keyPrefix: string;
  /** XREAD BLOCK, ms. */
  blockMs: number;
  maxMessageBytes: number;
  onInvalidEntry?: InvalidEntryListener | undefined;
}

/** Entries taken per stream per XREAD: bounds one reply's memory; a busy stream is simply read again at once. */
const BATCH = 500;
// Beyond BLOCK, how long a reply may take before the read is given up and the connection replaced.
const DEADLINE_GRACE_MS = 1_500;
// A key that holds something other than a stream is left out of reads for this long, then checked again.
const WRONG_TYPE_RETRY_MS = 5_000;
const UNBLOCK_ATTEMPTS = 5;

type XreadReply = [Buffer, RawStreamEntry[]][] | null;

/**
 * The process's one blocking reader: `XREAD BLOCK <blockMs> STREAMS k1 k2 … id1 id2 …` over every added topic, on its
 * own connection. A topic added while a read blocks is picked up at once: the command connection sends
 * `CLIENT UNBLOCK <id>` (the read returns empty and is re-issued with the new topic). Without the ACL right for CLIENT
 * UNBLOCK, or while its id is unknown, the new topic waits at most one BLOCK. Each topic's last delivered id is kept
 * here, so an entry is handed over once and in order whatever reads overlap, fail or repeat.
 */
export class RedisLiveFeed implements LiveFeed {
  private readonly positions = new Map<string, string>();
  private readonly wrongType = new Map<string, number>();
  private readonly stopping = new AbortController();
  private readonly running: Promise<void>;
  private clientId: number | undefined;
  private canUnblock = true;
  private reading: ReadonlySet<string> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly command: RedisClient,
    private readonly keys: StreamKeys,
    private readonly link: BlockingLink,
    private readonly settings: RedisFeedSettings,
    private readonly listener: LiveListener,
    private readonly onError: (error: unknown) => void,
  ) {
    link.watch((connection) => {
      this.clientId = undefined;
      connection.on('ready', () => void this.learnClientId(connection));
      connection.on('close', () => connection === this.blocking && (this.clientId = undefined));
    });
    this.running = this.run();
  }

  private get blocking(): Redis {
    return this.link.connection;
  }

  add(topic: string, after: string): void {
    this.positions.set(topic, after);
    this.wrongType.delete(topic);
    this.wake?.();
    const reading = this.reading;
    if (reading !== undefined && !reading.has(topic)) void this.unblock(reading);
  }

  remove(topic: string): void {
    // An overlapping read may still return entries of the topic; deliver() drops them.
    this.positions.delete(topic);
    this.wrongType.delete(topic);
  }

  async close(): Promise<void> {
    this.stopping.abort();
    this.wake?.();
    this.link.close();
    await this.running;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      const topics = this.readableTopics();
      if (topics.length === 0) {
        await this.idle();
        continue;
      }
      try {
        await this.readOnce(topics);
        failures = 0;
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        failures += 1;
        this.onError(error);
        if (String((error as Error).message).startsWith('WRONGTYPE')) await this.setAsideWrongTypes(topics);
        else await this.link.recover(error);
        await pause(Math.min(100 * failures, 1_000), this.stopping.signal);
      }
    }
  }

  private readableTopics(): string[] {
    const now = Date.now();
    return [...this.positions.keys()].filter((topic) => (this.wrongType.get(topic) ?? 0) <= now);
  }

  // Waits until a topic is added (or one set aside may be read again) or the feed closes.
  private idle(): Promise<void> {
    const waitMs = this.wrongType.size > 0 ? WRONG_TYPE_RETRY_MS : 60_000;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), waitMs);
      timer.unref?.();
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      this.wake = done;
    });
  }

  private async readOnce(topics: string[]): Promise<void> {
    const { blockMs } = this.settings;
    const keys = topics.map((topic) => this.keys.stream(topic));
    const ids = topics.map((topic) => this.positions.get(topic) ?? '0-0');
    this.reading = new Set(topics);
    let reply: XreadReply;
    // The first read of a cold start (or right after a reconnect) comes before the connection is ready: wait for the
    // attempt under way rather than fail, log a fault and pause.
    const blocking = await connected(this.blocking);
    try {
      const read = blocking.xreadBuffer('COUNT', BATCH, 'BLOCK', blockMs, 'STREAMS', ...keys, ...ids) as Promise<XreadReply>;
      reply = await withDeadline(blockMs + DEADLINE_GRACE_MS, read, () => dropConnection(blocking));
    } finally {
      this.reading = undefined;
    }
    for (const [key, entries] of reply ?? []) this.deliver(this.keys.topicOf(key.toString('utf8')), entries);
  }

  private deliver(topic: string, entries: RawStreamEntry[]): void {
    for (const entry of entries) {
      const last = this.positions.get(topic);
      if (last === undefined) return;
      const position = entry[0].toString('latin1');
      if (compareStreamIds(position, last) <= 0) continue;
      this.positions.set(topic, position);
      const parsed = parseStreamEntry(topic, entry, this.settings.maxMessageBytes);
      if (!isStoredMessage(parsed)) {
        this.settings.onInvalidEntry?.(parsed);
        continue;
      }
      try {
        this.listener(parsed);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  // One key of the wrong type fails the whole XREAD: find it and leave it out for a while so other topics keep flowing.
  private async setAsideWrongTypes(topics: string[]): Promise<void> {
    for (const topic of topics) {
      const key = this.keys.stream(topic);
      const type = await this.command.type(key).catch(() => 'unknown');
      if (type === 'stream' || type === 'none' || type === 'unknown') continue;
      this.wrongType.set(topic, Date.now() + WRONG_TYPE_RETRY_MS);
      this.onError(new Error(`Redis key ${key} is a ${type}, not a stream; topic ${topic} is not read`));
    }
  }

  private async learnClientId(connection: Redis): Promise<void> {
    try {
      const id = Number(await connection.client('ID'));
      if (connection === this.blocking) this.clientId = id;
    } catch {
      this.clientId = undefined;
    }
  }

  /**
   * Ends the blocking read `reading` early so a newly added topic joins at once. UNBLOCK can reach Redis before the read
   * does (two connections), so it is tried again while that same read is still outstanding.
   */
  private async unblock(reading: ReadonlySet<string>): Promise<void> {
    for (let attempt = 1; attempt <= UNBLOCK_ATTEMPTS && this.canUnblock; attempt++) {
      if (this.reading !== reading) return;
      const id = this.clientId;
      if (id !== undefined) {
        try {
          if ((await this.link.unblock(id)) === 1) return;
        } catch (error) {
          if (String((error as Error).message).startsWith('NOPERM')) this.canUnblock = false;
          return;
        }
      }
      await pause(20 * attempt, this.stopping.signal);
    }
  }
}
