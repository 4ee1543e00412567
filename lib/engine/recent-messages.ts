import { comparePositions } from '../sse/cursor.js';
import type { StoredMessage } from '../source.js';

/** Most messages kept per topic. */
const MAX_MESSAGES = 256;
/** Most characters of `data` kept per topic, so large messages cannot make the window costly. */
const MAX_CHARS = 512 * 1024;
/**
 * Most characters of `data` kept by all the windows of a process together. Per topic alone, a client holding many
 * streams of many topics (100 streams of 16 topics from one address) made the process keep 800 MB of copies.
 */
export const MAX_TOTAL_CHARS = 32 * 1024 * 1024;

/** The characters every window of one fan-out holds, against one bound (MAX_TOTAL_CHARS by default). */
export class RecentBudget {
  chars = 0;
  constructor(readonly maxChars = MAX_TOTAL_CHARS) {}
}

/**
 * The newest messages of one topic as the live feed delivered them, so a client that comes back after a short absence
 * (a deploy moved it here, a drain, a dropped connection) replays from memory instead of costing a source round trip
 * each; under a reconnect storm that is thousands of reads a second the source does not have to serve (issue #19).
 * Complete from `from` on: every message after that position, up to the newest delivered, is held.
 */
export class RecentMessages {
  private readonly messages: StoredMessage[] = [];
  private chars = 0;

  /**
   * @param from the position the live subscription started after (nothing before it is held).
   * @param budget the bound shared with the process's other windows.
   */
  constructor(private from: string, private readonly budget = new RecentBudget()) {}

  /**
   * Holds `message`, dropping this window's oldest past its own bounds, and past the shared one: there even the newest
   * may go (the window is a cache; a replay it cannot serve reads the source), so the total never exceeds the bound.
   */
  push(message: StoredMessage): void {
    this.messages.push(message);
    this.chars += message.data.length;
    this.budget.chars += message.data.length;
    while (this.messages.length > MAX_MESSAGES || (this.chars > MAX_CHARS && this.messages.length > 1) || (this.budget.chars > this.budget.maxChars && this.messages.length > 0)) {
      const dropped = this.messages.shift() as StoredMessage;
      this.chars -= dropped.data.length;
      this.budget.chars -= dropped.data.length;
      this.from = dropped.position;
    }
  }

  /** The topic's live subscription ended: what it held leaves the shared bound. */
  release(): void {
    this.budget.chars -= this.chars;
    this.chars = 0;
    this.messages.length = 0;
  }

  /**
   * The messages after `after` and at most `until`, oldest first; undefined when they are not all held here or number
   * more than `limit` (the source then answers, with its gap detection).
   */
  between(after: string, until: string, limit: number): StoredMessage[] | undefined {
    if (comparePositions(after, this.from) < 0) return undefined;
    const found: StoredMessage[] = [];
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const message = this.messages[i] as StoredMessage;
      if (comparePositions(message.position, after) <= 0) break;
      if (comparePositions(message.position, until) <= 0) found.push(message);
    }
    return found.length > limit ? undefined : found.reverse();
  }
}
