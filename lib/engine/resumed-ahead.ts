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

  /** Skips nothing of `topic` any more, and names no position of the client's own there. */
  forget(topic: string): void {
    this.until.delete(topic);
  }

  /** True once the feed has caught up on every topic: nothing is skipped any more. */
  get caughtUp(): boolean {
    return this.until.size === 0;
  }

  /**
   * The frames of `batch` the client does not have yet, each naming the client's own position in a topic it is still
   * ahead in (the set's frames name the feed's, which is behind there): the batch's buffer when nothing needs either
   * change, undefined for no frame.
   */
  unseen(batch: LiveBatch): Uint8Array | undefined {
    const kept: Uint8Array[] = [];
    let changed = false;
    batch.messages.forEach((message, i) => {
      const frame = batch.frames[i] as Uint8Array;
      if (this.has(message.topic, message.position)) {
        changed = true;
        return;
      }
      const own = this.withOwnPositions(frame);
      changed ||= own !== frame;
      kept.push(own);
    });
    if (!changed) return batch.buffer;
    return kept.length === 0 ? undefined : Buffer.concat(kept);
  }

  // A frame starts `id: <cursor>\n` (TopicFanout.deliver); only that line changes.
  private withOwnPositions(frame: Uint8Array): Uint8Array {
    if (this.until.size === 0) return frame;
    const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    const end = bytes.indexOf(0x0a);
    const cursor = bytes.toString('latin1', 'id: '.length, end);
    const own = this.adjust(cursor);
    return own === cursor ? frame : Buffer.concat([Buffer.from(`id: ${own}`, 'latin1'), bytes.subarray(end)]);
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
