import type { Logger } from '../../logger.js';

/** One message a batch call acts on. */
export interface ReceiptEntry {
  messageId: string;
  receiptHandle: string;
  /** Release only: seconds before the message is visible again (default 0, at once). */
  releaseAfterSeconds?: number;
}

/** Sends one batch (at most 10 entries, one queue); resolves with the ids SQS reported as failed. */
export type BatchSend = (queueUrl: string, entries: readonly ReceiptEntry[]) => Promise<string[]>;

/** SQS batch calls take at most 10 entries. */
export const SQS_BATCH_MAX = 10;

/**
 * Gathers per-message calls (delete after ack, release) into batch calls of up to 10 per queue, sent when 10 are
 * waiting or `flushMs` after the first. Callers do not wait for the batch: a delete that fails leaves the message to
 * come back after its visibility timeout, which at-least-once allows, so failures are logged, not thrown.
 */
export class SqsBatcher {
  private readonly waiting = new Map<string, ReceiptEntry[]>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  /**
   * @param what `delete` or `release`, for logs.
   * @param flushMs longest an entry waits for others before its batch is sent, ms.
   */
  constructor(
    private readonly what: string,
    private readonly send: BatchSend,
    private readonly logger: Logger,
    private readonly flushMs: number,
  ) {}

  add(queueUrl: string, entry: ReceiptEntry): void {
    const entries = this.waiting.get(queueUrl) ?? [];
    entries.push(entry);
    this.waiting.set(queueUrl, entries);
    if (entries.length >= SQS_BATCH_MAX) this.sendQueue(queueUrl);
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flushWaiting(), this.flushMs);
      this.timer.unref?.();
    }
  }

  /** Sends everything waiting and resolves when every batch sent so far has been answered. */
  async flush(): Promise<void> {
    this.flushWaiting();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private flushWaiting(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const queueUrl of [...this.waiting.keys()]) this.sendQueue(queueUrl);
  }

  private sendQueue(queueUrl: string): void {
    const entries = this.waiting.get(queueUrl) ?? [];
    this.waiting.delete(queueUrl);
    for (let i = 0; i < entries.length; i += SQS_BATCH_MAX) {
      const chunk = entries.slice(i, i + SQS_BATCH_MAX);
      const call = this.sendChunk(queueUrl, chunk).finally(() => this.inFlight.delete(call));
      this.inFlight.add(call);
    }
  }

  private async sendChunk(queueUrl: string, chunk: ReceiptEntry[]): Promise<void> {
    try {
      const failed = await this.send(queueUrl, chunk);
      // Typically a receipt handle that expired: the message became visible again and will be delivered once more.
      if (failed.length > 0) this.logger.warn({ queueUrl, messageIds: failed }, `SQS ${this.what} failed for some messages; they will be redelivered`);
    } catch (error) {
      this.logger.warn({ queueUrl, err: error, messageIds: chunk.map((e) => e.messageId) }, `SQS ${this.what} batch failed; the messages will be redelivered`);
    }
  }
}
