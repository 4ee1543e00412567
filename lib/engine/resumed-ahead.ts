import { comparePositions } from '../sse/cursor.js';
import type { LiveBatch } from './live-batch.js';

/**
 * Where a client that resumed past this process's live position already is, per topic: another instance's feed
 * delivered up to there first, so this process's live frames up to it are duplicates. Kept only by the rare stream that
 * needs it, and dropped topic by topic as the feed catches up.
 */
export class ResumedAhead {
  private readonly until = new Map<string, string>();

  /** The client has every message of `topic` up to `position`. */
  skipUntil(topic: string, position: string): void {
    this.until.set(topic, position);
  }

  /** True once the feed has caught up on every topic: nothing is skipped any more. */
  get caughtUp(): boolean {
    return this.until.size === 0;
  }

  /** The frames of `batch` the client does not have yet: the batch's buffer when it lacks them all, undefined for none. */
  unseen(batch: LiveBatch): Uint8Array | undefined {
    const kept: Uint8Array[] = [];
    batch.messages.forEach((message, i) => {
      if (!this.has(message.topic, message.position)) kept.push(batch.frames[i] as Uint8Array);
    });
    if (kept.length === batch.frames.length) return batch.buffer;
    return kept.length === 0 ? undefined : Buffer.concat(kept);
  }

  /** `cursor` (`topic=position,…`) with the client's own position where it is ahead: never move a client back. */
  adjust(cursor: string): string {
    return cursor.split(',').map((pair) => {
      const topic = pair.slice(0, pair.indexOf('='));
      const position = this.until.get(topic);
      return position === undefined ? pair : `${topic}=${position}`;
    }).join(',');
  }

  private has(topic: string, position: string): boolean {
    const until = this.until.get(topic);
    if (until === undefined) return false;
    if (comparePositions(position, until) <= 0) return true;
    this.until.delete(topic);
    return false;
  }
}
