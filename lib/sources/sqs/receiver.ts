import { ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, ReceiveMessageCommand, type BatchResultErrorEntry, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { RelayError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { SQS_BATCH_MAX, type ReceiptEntry, type SqsBatcher } from './batcher.js';
import { readMessage } from './message.js';
import { isFifoQueue } from './queue-urls.js';
import { backoffMs, classifySqsError, sleep, sqsUnavailable, type BackoffSettings } from './retry.js';

/** A message this process received and has neither deleted nor released; its visibility is ours to manage. */
export interface Held extends ReceiptEntry {
  queueUrl: string;
  /** Epoch ms at which SQS makes it visible again unless extended. */
  visibleUntil: number;
}

/** A received message waiting for a local subscriber of its topic. */
export interface Received {
  held: Held;
  /** The `topic` attribute on a shared queue; undefined when absent (any subscriber of the queue may take it). */
  topic: string | undefined;
  event: string;
  data: string;
}

/** What a message that cannot become a frame is reported with (logged by the receiver, counted by the caller). */
export interface InvalidMessage {
  queueUrl: string;
  messageId: string;
  reason: string;
}

export interface ReceiverDeps {
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
  /** The queue cannot be read (missing, access denied): new streams are refused with `failure` for a while. */
  onQueueFailed: (queueUrl: string, failure: RelayError) => void;
  /** A receive failed after the SDK's retries (SQS unreachable, throttling, 5xx): new streams must ask SQS again. */
  onReceiveFailing: (queueUrl: string) => void;
}

/** A local subscriber of a receiver (one stream). */
export interface ReceiverSubscriber {
  readonly topics: readonly string[];
  /** Something it may take arrived, or the receiver failed. */
  wake(): void;
}

// Messages of one topic waiting for its local subscribers, per subscriber; beyond that they go back to the queue.
const READY_PER_SUBSCRIBER = SQS_BATCH_MAX;
// After a receive that brought only topics nobody here reads, wait this long, so other processes get a chance at them.
const FOREIGN_PAUSE_MS = 500;
// On a FIFO queue a message of a topic nobody here reads is released this much later, s. Released at once, it heads
// its group again and, a FIFO receive bringing one message, the oldest group's head comes back at every receive: the
// topics read here would wait behind it for as long as it stays in the queue. Hidden a moment, its group is blocked
// and SQS hands out the other groups' messages.
const FIFO_FOREIGN_RELEASE_S = 2;
// Long-poll wait once the process drains, s: the last receive is then answered soon after the last stream closed.
const DRAINING_WAIT_SECONDS = 1;
// Shortest time between the start of a receive that brought nothing and the next receive. With SQS_WAIT_SECONDS=0
// (short polling) an empty queue answers at once, and without this floor the loop would spin: one request after the
// other, a core of CPU and every request billed.
const EMPTY_RECEIVE_MIN_MS = 1_000;
// After a failed visibility extension, the next attempt comes this soon (or an eighth of the timeout, if shorter), ms.
const EXTEND_RETRY_MS = 1_000;
// SQS answers these for a receipt handle whose message was deleted (or received again by someone else).
const GONE = new Set(['ReceiptHandleIsInvalid', 'MessageNotInflight', 'InvalidParameterValue', 'AWS.SimpleQueueService.MessageNotInflight']);

/**
 * The one reader of one queue in this process, shared by every local stream of its topics: a single long-poll loop that
 * hands each message to a local subscriber of its topic and releases (visibility 0) only the topics that nobody here
 * reads, so subscribers of different topics of a shared queue never bounce each other's messages back to SQS. It
 * receives only while some subscriber has nothing to take, and one timer extends the visibility of everything held.
 */
export class SqsReceiver {
  readonly held = new Map<string, Held>();
  private readonly ready = new Map<string | undefined, Received[]>();
  private readonly subscribers = new Set<ReceiverSubscriber>();
  private wakePoller: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** Set when the queue cannot be read (missing, access denied): every subscriber fails with it. */
  failure: unknown;
  private draining = false;

  /** @param onIdle called when the loop stopped with no subscriber left (the source then forgets this receiver). */
  constructor(private readonly deps: ReceiverDeps, readonly queueUrl: string, private readonly shared: boolean, private readonly onIdle: () => void) {}

  subscribe(subscriber: ReceiverSubscriber): void {
    this.subscribers.add(subscriber);
    this.timer ??= setInterval(() => this.extend(), Math.max(250, (this.deps.visibilityTimeoutSeconds * 1_000) / 4));
    this.timer.unref?.();
    this.loop ??= this.poll().finally(() => {
      this.loop = undefined;
      if (this.subscribers.size === 0) this.onIdle();
    });
    this.wakePoll();
  }

  /** The subscriber left: topics nobody here reads any more go back to the queue; with no subscriber the loop stops. */
  unsubscribe(subscriber: ReceiverSubscriber): void {
    this.subscribers.delete(subscriber);
    for (const topic of [...this.ready.keys()]) if (!this.wanted(topic)) this.releaseReady(topic, 0);
    if (this.subscribers.size > 0) return;
    this.stopTimers();
  }

  /**
   * Resolves once this receiver's loop has stopped, when no subscriber is left: its last receive has been answered and
   * what it brought is queued for release. Immediately when it has subscribers or no loop.
   */
  async stopped(): Promise<void> {
    if (this.subscribers.size === 0) await this.loop;
  }

  /** The process drains: the receives that follow wait at most DRAINING_WAIT_SECONDS. */
  drain(): void {
    this.draining = true;
  }

  /** The source closes: the loop ends (its receive is aborted by the closing signal). */
  close(): void {
    this.stopTimers();
  }

  private stopTimers(): void {
    clearInterval(this.timer);
    clearTimeout(this.retry);
    this.timer = undefined;
    this.retry = undefined;
    this.wakePoll();
  }

  /** The next message for one of `topics` (or one without a topic attribute), if one is waiting. */
  take(topics: readonly string[]): (Received & { topic: string }) | undefined {
    for (const topic of [...topics, undefined]) {
      const next = this.ready.get(topic)?.shift();
      if (next === undefined) continue;
      if (this.ready.get(topic)?.length === 0) this.ready.delete(topic);
      this.wakePoll();
      return { ...next, topic: topic ?? (topics[0] as string) };
    }
    return undefined;
  }

  /** Stops tracking a message (deleted, released, or found gone). */
  forget(receiptHandle: string): boolean {
    return this.held.delete(receiptHandle);
  }

  /** Whether SQS still has the message in flight under our receipt handle; extends it when so. */
  async isHeld(held: Held): Promise<boolean> {
    if (!this.held.has(held.receiptHandle)) return false;
    try {
      await this.deps.client.send(new ChangeMessageVisibilityCommand({
        QueueUrl: held.queueUrl, ReceiptHandle: held.receiptHandle, VisibilityTimeout: this.deps.visibilityTimeoutSeconds,
      }));
      held.visibleUntil = Date.now() + this.deps.visibilityTimeoutSeconds * 1_000;
      return true;
    } catch (error) {
      const code = (error as { name?: string; Code?: string }).Code ?? (error as Error).name;
      if (!GONE.has(code)) throw error;
      this.held.delete(held.receiptHandle);
      return false;
    }
  }

  private get running(): boolean {
    return this.subscribers.size > 0 && !this.deps.closing.aborted && this.failure === undefined;
  }

  private wanted(topic: string | undefined): boolean {
    if (topic === undefined) return this.subscribers.size > 0;
    for (const subscriber of this.subscribers) if (subscriber.topics.includes(topic)) return true;
    return false;
  }

  private readers(topic: string | undefined): number {
    let count = 0;
    for (const subscriber of this.subscribers) if (topic === undefined || subscriber.topics.includes(topic)) count += 1;
    return count;
  }

  // Receive only while some subscriber would find nothing to take: bounded prefetch, whatever the number of streams.
  private hungry(): boolean {
    for (const subscriber of this.subscribers) {
      if (subscriber.topics.every((topic) => (this.ready.get(topic)?.length ?? 0) === 0) && (this.ready.get(undefined)?.length ?? 0) === 0) return true;
    }
    return false;
  }

  private wakePoll(): void {
    const wake = this.wakePoller;
    this.wakePoller = undefined;
    wake?.();
  }

  private async poll(): Promise<void> {
    for (let attempt = 0; this.running;) {
      if (!this.hungry()) {
        await new Promise<void>((resolve) => (this.wakePoller = resolve));
        continue;
      }
      const receivedAt = Date.now();
      let messages: Message[];
      try {
        // Not aborted when the last subscriber leaves, only when the source closes: SQS keeps an abandoned long poll
        // waiting server-side and hands it the next messages, which would then stay invisible for the whole timeout.
        messages = (await this.deps.client.send(this.receiveCommand(), { abortSignal: this.deps.closing })).Messages ?? [];
        attempt = 0;
      } catch (error) {
        const failure = classifySqsError(error, this.deps.closing);
        if (failure === 'aborted') return;
        if (failure === 'transient') {
          this.deps.logger.warn({ queueUrl: this.queueUrl, err: error, attempt }, 'SQS receive failed; retrying with backoff');
          this.deps.onReceiveFailing(this.queueUrl);
          await sleep(backoffMs(attempt++, this.deps.backoff), this.deps.closing);
          continue;
        }
        this.deps.logger.error({ queueUrl: this.queueUrl, err: error }, failure === 'missing-queue' ? 'SQS queue does not exist' : 'SQS refused the receive');
        const unavailable = sqsUnavailable(this.queueUrl, failure, error);
        this.failure = unavailable;
        this.deps.onQueueFailed(this.queueUrl, unavailable);
        for (const subscriber of this.subscribers) subscriber.wake();
        return;
      }
      if (this.accept(messages, receivedAt) === 0 && messages.length > 0) await sleep(FOREIGN_PAUSE_MS, this.deps.closing);
      const early = EMPTY_RECEIVE_MIN_MS - (Date.now() - receivedAt);
      if (messages.length === 0 && early > 0) await sleep(early, this.deps.closing);
    }
  }

  private receiveCommand(): ReceiveMessageCommand {
    return new ReceiveMessageCommand({
      // FIFO: SQS hands out up to 10 messages of one group in a receive, and the local subscribers would then process a
      // group's messages side by side. One at a time, SQS holds the group's next message until this one is deleted or
      // released, so a group stays in order across every subscriber of every process.
      QueueUrl: this.queueUrl, MaxNumberOfMessages: isFifoQueue(this.queueUrl) ? 1 : SQS_BATCH_MAX, WaitTimeSeconds: this.draining ? Math.min(this.deps.waitSeconds, DRAINING_WAIT_SECONDS) : this.deps.waitSeconds,
      VisibilityTimeout: this.deps.visibilityTimeoutSeconds, MessageAttributeNames: ['All'],
    });
  }

  /** Files received messages under their topics; returns how many some local subscriber wants. */
  private accept(messages: readonly Message[], receivedAt: number): number {
    let accepted = 0;
    for (const message of messages) {
      const read = readMessage(message, this.deps.maxMessageBytes);
      if (read.kind === 'invalid') {
        // Neither acked nor released: it comes back after its visibility timeout until the redrive policy moves it.
        this.deps.logger.warn({ queueUrl: this.queueUrl, messageId: read.messageId, reason: read.reason }, 'SQS message cannot be a frame; left for the dead-letter queue');
        this.deps.onInvalidMessage({ queueUrl: this.queueUrl, messageId: read.messageId, reason: read.reason });
        continue;
      }
      const held: Held = { queueUrl: this.queueUrl, messageId: read.messageId, receiptHandle: read.receiptHandle, visibleUntil: receivedAt + this.deps.visibilityTimeoutSeconds * 1_000 };
      const topic = this.shared ? read.topic : undefined;
      if (!this.running) {
        this.deps.releaser.add(this.queueUrl, held);
        continue;
      }
      if (!this.wanted(topic)) {
        this.deps.releaser.add(this.queueUrl, isFifoQueue(this.queueUrl) ? { ...held, releaseAfterSeconds: FIFO_FOREIGN_RELEASE_S } : held);
        continue;
      }
      this.held.set(held.receiptHandle, held);
      const waiting = this.ready.get(topic) ?? [];
      waiting.push({ held, topic, event: read.event, data: read.data });
      this.ready.set(topic, waiting);
      accepted += 1;
    }
    for (const topic of this.ready.keys()) this.releaseReady(topic, READY_PER_SUBSCRIBER * this.readers(topic));
    if (accepted > 0) for (const subscriber of this.subscribers) subscriber.wake();
    return accepted;
  }

  // Keeps at most `keep` waiting messages of a topic; the newest of the rest go back to the queue.
  private releaseReady(topic: string | undefined, keep: number): void {
    const waiting = this.ready.get(topic) ?? [];
    for (const extra of waiting.splice(keep)) {
      this.held.delete(extra.held.receiptHandle);
      this.deps.releaser.add(this.queueUrl, extra.held);
    }
    if (waiting.length === 0) this.ready.delete(topic);
  }

  /** The one timer's work: push back the visibility timeout of every held message that is past half of it. */
  private extend(): void {
    const visibilityMs = this.deps.visibilityTimeoutSeconds * 1_000;
    const now = Date.now();
    const due = [...this.held.values()].filter((held) => held.visibleUntil - now <= visibilityMs / 2);
    for (let i = 0; i < due.length; i += SQS_BATCH_MAX) {
      const chunk = due.slice(i, i + SQS_BATCH_MAX);
      const before = chunk.map((held) => held.visibleUntil);
      for (const held of chunk) held.visibleUntil = now + visibilityMs;
      const entries = chunk.map((h, n) => ({ Id: String(n), ReceiptHandle: h.receiptHandle, VisibilityTimeout: this.deps.visibilityTimeoutSeconds }));
      this.deps.client.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.queueUrl, Entries: entries })).then(
        (out) => this.afterExtension(chunk, before, out.Failed ?? []),
        (error: unknown) => {
          chunk.forEach((held, n) => (held.visibleUntil = before[n]!));
          this.extendSoon();
          const fields = { queueUrl: this.queueUrl, messages: chunk.length, err: error };
          if (classifySqsError(error) === 'permanent') {
            this.deps.logger.error(fields, 'SQS visibility extension failed: SQS refused access; allow sqs:ChangeMessageVisibility on the queue (docs/sqs.md, IAM). Until then a message held past its visibility timeout is delivered again');
          } else {
            this.deps.logger.warn(fields, 'SQS visibility extension failed; retrying before the messages become visible again');
          }
        },
      );
    }
  }

  /**
   * What SQS said of each entry of an extension. A message it no longer has in flight under our receipt handle (deleted,
   * or visible again and received by another consumer) is not ours: still waiting here, delivering it would be a
   * duplicate, so it is dropped. Any other failure keeps the old deadline, so the next attempt comes soon, not one
   * half-timeout after a deadline that never moved.
   */
  private afterExtension(chunk: readonly Held[], before: readonly number[], failed: readonly BatchResultErrorEntry[]): void {
    if (failed.length === 0) return;
    const gone: string[] = [];
    const codes = new Set<string>();
    for (const entry of failed) {
      const n = Number(entry.Id);
      const held = chunk[n];
      if (held === undefined) continue;
      codes.add(entry.Code ?? 'unknown');
      if (GONE.has(entry.Code ?? '')) {
        this.dropGone(held);
        gone.push(held.messageId);
      } else {
        held.visibleUntil = before[n]!;
        this.extendSoon();
      }
    }
    this.deps.logger.warn(
      { queueUrl: this.queueUrl, failed: failed.length, gone: gone.length, codes: [...codes], messageIds: gone.slice(0, 10) },
      gone.length > 0
        ? 'SQS no longer has some held messages in flight under this receipt handle (deleted, or received again elsewhere after their visibility timeout); they are not delivered from here'
        : 'SQS refused to extend the visibility of some held messages; retrying before they become visible again',
    );
  }

  private dropGone(held: Held): void {
    this.held.delete(held.receiptHandle);
    for (const [topic, waiting] of this.ready) {
      const at = waiting.findIndex((received) => received.held === held);
      if (at < 0) continue;
      waiting.splice(at, 1);
      if (waiting.length === 0) this.ready.delete(topic);
      this.wakePoll();
      return;
    }
  }

  // One extra pass shortly after a failed extension: the timer's next pass may come after the old deadline.
  private extendSoon(): void {
    if (this.retry !== undefined || this.timer === undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.timer !== undefined) this.extend();
    }, Math.min(EXTEND_RETRY_MS, (this.deps.visibilityTimeoutSeconds * 1_000) / 8));
    this.retry.unref?.();
  }
}
