import { ChangeMessageVisibilityBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '../logger.js';
import type { Delivery } from '../source.js';
import { SQS_BATCH_MAX, type SqsBatcher } from './sqs-batcher.js';
import { readMessage } from './sqs-message.js';
import type { QueuePlan } from './sqs-queue-urls.js';
import { backoffMs, classifySqsError, sleep, sqsUnavailable, type BackoffSettings } from './sqs-retry.js';

/** A message this consumer received and has neither acked nor released; its visibility is ours to manage. */
interface Held {
  queueUrl: string;
  messageId: string;
  receiptHandle: string;
  /** Epoch ms at which SQS makes it visible again unless extended. */
  visibleUntil: number;
}

/** What a message that cannot become a frame is reported with (logged by the source, counted by the caller). */
export interface InvalidMessage {
  queueUrl: string;
  messageId: string;
  reason: string;
}

export interface ConsumerDeps {
  client: SQSClient;
  waitSeconds: number;
  visibilityTimeoutSeconds: number;
  maxMessageBytes: number;
  backoff: BackoffSettings;
  deleter: SqsBatcher;
  releaser: SqsBatcher;
  /** Aborts when the source closes: the only thing that cuts a long poll short. */
  closing: AbortSignal;
  logger: Logger;
  onInvalidMessage: (message: InvalidMessage) => void;
}

// After a receive that brought only other topics' messages (shared queue), wait this long so the released messages go
// to a subscriber that wants them instead of straight back to this one.
const FOREIGN_PAUSE_MS = 500;

/**
 * One subscription's reading of its queues: a long-poll loop per queue feeding at most one receive (≤ 10 messages) ahead
 * of the writer; one timer that extends the visibility of everything held; and, when it stops, the release (visibility
 * 0) of everything not acked, so another subscriber gets it at once.
 */
export class SqsConsumer {
  private readonly held = new Map<string, Held>();
  private readonly ready: Delivery[] = [];
  private readonly stop = new AbortController();
  private wakeReader: (() => void) | undefined;
  private wakePollers: (() => void)[] = [];
  private failure: unknown;

  private timer: ReturnType<typeof setInterval> | undefined;

  /**
   * @param signals the subscriber's signal and the source's closing signal; either stops this consumer. (Not combined
   *   with AbortSignal.any: on Node 20 its result may be garbage-collected with its listeners before it fires.)
   */
  constructor(private readonly deps: ConsumerDeps, private readonly plans: readonly QueuePlan[], signals: readonly AbortSignal[]) {
    const stop = (): void => this.stop.abort();
    // Released the moment the subscriber leaves, even while the session is still inside a write: the port's contract.
    this.stop.signal.addEventListener('abort', () => {
      for (const signal of signals) signal.removeEventListener('abort', stop);
      this.onStop();
    }, { once: true });
    for (const signal of signals) {
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    }
  }

  async *deliveries(): AsyncGenerator<Delivery> {
    if (!this.stop.signal.aborted) {
      this.timer = setInterval(() => this.extend(), Math.max(250, (this.deps.visibilityTimeoutSeconds * 1_000) / 4));
      this.timer.unref?.();
    }
    const pollers = this.plans.map((plan) => this.poll(plan));
    try {
      for (;;) {
        if (this.failure !== undefined) throw this.failure;
        const next = this.ready.shift();
        if (this.ready.length === 0) this.wakeAll(this.wakePollers.splice(0));
        if (next !== undefined) yield next;
        else if (this.stop.signal.aborted) return;
        else await new Promise<void>((resolve) => (this.wakeReader = resolve));
      }
    } finally {
      this.stop.abort();
      // A receive still out releases what it brings by itself (see accept); the subscriber does not wait for it.
      void Promise.allSettled(pollers).then(() => this.deps.releaser.flush());
    }
  }

  private onStop(): void {
    clearInterval(this.timer);
    this.releaseAll();
    void this.deps.releaser.flush();
    this.wake();
  }

  private wake(): void {
    const reader = this.wakeReader;
    this.wakeReader = undefined;
    reader?.();
    this.wakeAll(this.wakePollers.splice(0));
  }

  private wakeAll(waiters: (() => void)[]): void {
    for (const waiter of waiters) waiter();
  }

  // A poller receives again only once the writer has taken everything received so far: bounded prefetch.
  private drained(): Promise<void> {
    if (this.ready.length === 0 || this.stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.wakePollers.push(resolve));
  }

  private async poll(plan: QueuePlan): Promise<void> {
    const { client, waitSeconds, visibilityTimeoutSeconds, backoff, logger } = this.deps;
    const signal = this.stop.signal;
    for (let attempt = 0; !signal.aborted;) {
      await this.drained();
      if (signal.aborted) return;
      const receivedAt = Date.now();
      let messages: Message[];
      try {
        const command = new ReceiveMessageCommand({
          QueueUrl: plan.queueUrl, MaxNumberOfMessages: SQS_BATCH_MAX, WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: visibilityTimeoutSeconds, MessageAttributeNames: ['All'],
        });
        // Not aborted when the subscriber leaves, only when the source closes: SQS (and the emulator) keep an abandoned
        // long poll waiting server-side and hand it the next messages, which then stay invisible for the whole
        // visibility timeout. Letting the receive finish and releasing what it brings loses no time for anyone.
        messages = (await client.send(command, { abortSignal: this.deps.closing })).Messages ?? [];
        attempt = 0;
      } catch (error) {
        const failure = classifySqsError(error, this.deps.closing);
        if (failure === 'aborted' || signal.aborted) return;
        if (failure === 'transient') {
          logger.warn({ queueUrl: plan.queueUrl, err: error, attempt }, 'SQS receive failed; retrying with backoff');
          await sleep(backoffMs(attempt++, backoff), signal);
          continue;
        }
        logger.error({ queueUrl: plan.queueUrl, err: error }, failure === 'missing-queue' ? 'SQS queue does not exist' : 'SQS refused the receive');
        return this.fail(sqsUnavailable(plan.queueUrl, failure, error));
      }
      if (this.accept(plan, messages, receivedAt) === 0 && messages.length > 0) await sleep(FOREIGN_PAUSE_MS, signal);
    }
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    this.stop.abort();
  }

  /** Turns received messages into deliveries; returns how many were for this subscription. */
  private accept(plan: QueuePlan, messages: readonly Message[], receivedAt: number): number {
    let accepted = 0;
    for (const message of messages) {
      const read = readMessage(message, this.deps.maxMessageBytes);
      if (read.kind === 'invalid') {
        // Neither acked nor released: it comes back after its visibility timeout until the redrive policy moves it.
        this.deps.logger.warn({ queueUrl: plan.queueUrl, messageId: read.messageId, reason: read.reason }, 'SQS message cannot be a frame; left for the dead-letter queue');
        this.deps.onInvalidMessage({ queueUrl: plan.queueUrl, messageId: read.messageId, reason: read.reason });
        continue;
      }
      const entry = { messageId: read.messageId, receiptHandle: read.receiptHandle };
      // On a shared queue a message of a topic this subscriber did not ask for goes straight back for another one.
      const topic = plan.shared ? read.topic ?? plan.topics[0] : plan.topics[0];
      if (topic === undefined || !plan.topics.includes(topic)) {
        this.deps.releaser.add(plan.queueUrl, entry);
        continue;
      }
      // A receive that answered after the subscriber left: nobody will take these, so they go back at once.
      if (this.stop.signal.aborted) {
        this.deps.releaser.add(plan.queueUrl, entry);
        continue;
      }
      const held: Held = { queueUrl: plan.queueUrl, ...entry, visibleUntil: receivedAt + this.deps.visibilityTimeoutSeconds * 1_000 };
      this.held.set(read.receiptHandle, held);
      this.ready.push(this.delivery(held, topic, read.event, read.data));
      accepted += 1;
    }
    if (accepted > 0) this.wake();
    return accepted;
  }

  private delivery(held: Held, topic: string, event: string, data: string): Delivery {
    let acked = false;
    return {
      topic, id: held.messageId, event, data,
      // Deleted even when already released by a stop: its frame was written, and a receipt handle that another
      // receive replaced no longer deletes anything, so this can only save a duplicate.
      ack: async () => {
        this.held.delete(held.receiptHandle);
        if (!acked) this.deps.deleter.add(held.queueUrl, held);
        acked = true;
      },
      release: async () => {
        if (this.held.delete(held.receiptHandle)) this.deps.releaser.add(held.queueUrl, held);
      },
    };
  }

  /** The one timer's work: push back the visibility timeout of every held message that is past half of it. */
  private extend(): void {
    const visibilityMs = this.deps.visibilityTimeoutSeconds * 1_000;
    const now = Date.now();
    const due = new Map<string, Held[]>();
    for (const held of this.held.values()) {
      if (held.visibleUntil - now > visibilityMs / 2) continue;
      held.visibleUntil = now + visibilityMs;
      due.set(held.queueUrl, [...(due.get(held.queueUrl) ?? []), held]);
    }
    for (const [queueUrl, entries] of due) {
      for (let i = 0; i < entries.length; i += SQS_BATCH_MAX) {
        const chunk = entries.slice(i, i + SQS_BATCH_MAX).map((h, n) => ({
          Id: String(n), ReceiptHandle: h.receiptHandle, VisibilityTimeout: this.deps.visibilityTimeoutSeconds,
        }));
        this.deps.client.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: chunk })).catch((error: unknown) => {
          this.deps.logger.warn({ queueUrl, err: error }, 'SQS visibility extension failed; slow messages may be delivered twice');
        });
      }
    }
  }

  private releaseAll(): void {
    for (const held of this.held.values()) this.deps.releaser.add(held.queueUrl, held);
    this.held.clear();
    this.ready.length = 0;
  }
}
