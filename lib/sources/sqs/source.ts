import {
  ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, SendMessageCommand,
  type MessageAttributeValue, type SQSClient,
} from '@aws-sdk/client-sqs';
import { isRelayError, RelayError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import type { ConsumeOptions, Delivery, OutgoingMessage, QueueSource } from '../../source.js';
import { SQS_BATCH_MAX, SqsBatcher, type ReceiptEntry } from './batcher.js';
import { SqsConsumer } from './consumer.js';
import { SqsReceiver, type InvalidMessage, type ReceiverDeps } from './receiver.js';
import { parseQueueHandle } from '../../queue-handle.js';
import { EVENT_ATTRIBUTE, fifoDeduplicationId, sqsBodyProblem, TOPIC_ATTRIBUTE } from './message.js';
import { isFifoQueue, SqsQueueUrls, type SqsQueues } from './queue-urls.js';
import { classifySqsError, DEFAULT_BACKOFF, sleep, sqsUnavailable, type BackoffSettings } from './retry.js';

export type { InvalidMessage } from './receiver.js';

/** What the SQS source is told (see SqsConfig and ServerConfig for the variables behind most of it). */
export interface SqsSourceSettings {
  /** One queue for every topic (messages carry their topic in the `topic` attribute), or one queue per topic. */
  queues: SqsQueues;
  /** Long-poll wait of each receive, seconds, 0–20 (`SQS_WAIT_SECONDS`, default 20). */
  waitSeconds: number;
  /** Visibility timeout of received messages, seconds (`SQS_VISIBILITY_TIMEOUT_S`, default 30); extended while held. */
  visibilityTimeoutSeconds: number;
  /** Largest body that becomes a frame, bytes of UTF-8 (`MAX_MESSAGE_BYTES`, default 65536). */
  maxMessageBytes: number;
  /** Longest an ack or release waits for others before its batch request leaves, ms (lib/config FIXED_SETTINGS). */
  batchFlushMs: number;
  /** Backoff of the receive loop after throttling or network errors. Default 200 ms doubling up to 10 s, full jitter. */
  backoff?: BackoffSettings;
}

export interface SqsSourceHooks {
  logger?: Logger;
  /** Hears each message that cannot become a frame (count it as `sse_invalid_messages_total`). */
  onInvalidMessage?: (message: InvalidMessage) => void;
}

// A queue that answered a check is not asked again for this long.
const CHECK_TTL_MS = 60_000;
// Longest close() waits for the last receives: above a receive's wait once drain() ran, within the process's exit margin.
const CLOSE_WAIT_MS = 3_000;

/**
 * SOURCE=sqs: each message goes to one subscriber. A message is deleted (in batches) only after the session acked it,
 * i.e. after its frame was written; whatever a leaving subscriber still holds is released at once (visibility 0).
 * `close()` destroys the client, which the source owns from construction on.
 */
export class SqsSource implements QueueSource {
  readonly delivery = 'queue';
  private readonly urls: SqsQueueUrls;
  private readonly deleter: SqsBatcher;
  private readonly releaser: SqsBatcher;
  private readonly closing = new AbortController();
  private draining = false;
  private readonly logger: Logger;
  /** The one receiver of each queue this process reads now. */
  private readonly receivers = new Map<string, SqsReceiver>();
  /** When each queue last answered check(); bounded (cleared past 1,000 queues). */
  private readonly checkedAt = new Map<string, number>();
  /** Queues whose receive failed for good, with the failure new streams get until then; bounded like checkedAt. */
  private readonly refusedUntil = new Map<string, { until: number; failure: RelayError }>();

  constructor(private readonly client: SQSClient, private readonly settings: SqsSourceSettings, private readonly hooks: SqsSourceHooks = {}) {
    this.urls = new SqsQueueUrls(settings.queues);
    this.logger = hooks.logger ?? silentLogger;
    const flushMs = settings.batchFlushMs;
    this.deleter = new SqsBatcher('delete', (queueUrl, entries) => this.deleteBatch(queueUrl, entries), this.logger, flushMs);
    this.releaser = new SqsBatcher('release', (queueUrl, entries) => this.releaseBatch(queueUrl, entries), this.logger, flushMs);
  }

  async publish(topic: string, message: OutgoingMessage): Promise<{ id: string }> {
    const queueUrl = this.urls.urlOf(topic);
    const bodyProblem = sqsBodyProblem(message.data);
    if (bodyProblem !== undefined) throw new RelayError('unsupported_message', bodyProblem);
    const attributes: Record<string, MessageAttributeValue> = { [TOPIC_ATTRIBUTE]: { DataType: 'String', StringValue: topic } };
    if (message.event !== undefined && message.event !== 'message') attributes[EVENT_ATTRIBUTE] = { DataType: 'String', StringValue: message.event };
    // FIFO: one message group per topic keeps each topic in order; the topic and idempotency key become the
    // deduplication id, so a retried publish within SQS's 5-minute window is stored once.
    const fifo = isFifoQueue(queueUrl) ? { MessageGroupId: topic, MessageDeduplicationId: fifoDeduplicationId(topic, message.key) } : {};
    try {
      const out = await this.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: message.data, MessageAttributes: attributes, ...fifo }));
      return { id: out.MessageId ?? '' };
    } catch (error) {
      if (classifySqsError(error) === 'refused-message') throw new RelayError('unsupported_message', 'SQS refused the message', { cause: error });
      throw this.unavailable(queueUrl, error);
    }
  }

  consume(topics: readonly string[], signal: AbortSignal, options: ConsumeOptions = {}): AsyncIterable<Delivery> {
    const receivers = this.urls.plan(topics).map((plan) => this.receiver(plan.queueUrl, plan.shared));
    return new SqsConsumer(topics, receivers, this.deleter, this.releaser, signal, this.closing.signal, options.holdAfterStopMs).deliveries();
  }

  // One receiver per queue per process, shared by every local stream of its topics; a failed one is replaced.
  private receiver(queueUrl: string, shared: boolean): SqsReceiver {
    const existing = this.receivers.get(queueUrl);
    if (existing !== undefined && existing.failure === undefined) return existing;
    const receiver: SqsReceiver = new SqsReceiver(this.receiverDeps(), queueUrl, shared, () => {
      if (this.receivers.get(queueUrl) === receiver) this.receivers.delete(queueUrl);
    });
    if (this.draining) receiver.drain();
    this.receivers.set(queueUrl, receiver);
    return receiver;
  }

  private receiverDeps(): ReceiverDeps {
    return {
      client: this.client, waitSeconds: this.settings.waitSeconds, visibilityTimeoutSeconds: this.settings.visibilityTimeoutSeconds,
      maxMessageBytes: this.settings.maxMessageBytes, backoff: this.settings.backoff ?? DEFAULT_BACKOFF,
      deleter: this.deleter, releaser: this.releaser, closing: this.closing.signal, logger: this.logger,
      onInvalidMessage: this.hooks.onInvalidMessage ?? (() => undefined),
      // A queue that refused a receive (deleted, access denied, a KMS key it cannot use) may still answer
      // GetQueueAttributes: its streams are refused with that failure for its Retry-After instead of being opened to
      // end at once, which would send every browser round a reconnect loop.
      onQueueFailed: (queueUrl, failure) => {
        this.checkedAt.delete(queueUrl);
        if (this.refusedUntil.size > 1_000) this.refusedUntil.clear();
        this.refusedUntil.set(queueUrl, { until: Date.now() + (failure.retryAfterSeconds ?? 30) * 1_000, failure });
      },
      // Every queue is behind the same endpoint: one that does not answer a receive makes every cached check stale, so
      // the next stream asks SQS and gets a 503 while it is away (a source that is down is refused before the stream).
      onReceiveFailing: () => this.checkedAt.clear(),
    };
  }

  /**
   * Deletes messages of `topic` by handle (POST /ack reaching a process that does not hold them, which on Lambda is
   * every acknowledgement). Sent at once and awaited, not through the batcher, which only logs a failed call: the 200
   * tells the browser its message will not come back, so an SQS that does not answer must be a 503 to retry instead.
   * A handle SQS refuses (stale: the message was released and taken again) is logged; retrying it would not help.
   */
  async acknowledge(topic: string, handles: readonly string[]): Promise<number> {
    const queueUrl = this.urls.urlOf(topic);
    const entries: ReceiptEntry[] = [];
    let refused = 0;
    for (const handle of handles) {
      const parsed = parseQueueHandle(handle);
      const at = parsed?.topic === topic ? parsed.part.indexOf('~') : -1;
      if (parsed === undefined || at <= 0) continue;
      entries.push({ messageId: parsed.part.slice(0, at), receiptHandle: parsed.part.slice(at + 1) });
    }
    const batches: ReceiptEntry[][] = [];
    for (let i = 0; i < entries.length; i += SQS_BATCH_MAX) batches.push(entries.slice(i, i + SQS_BATCH_MAX));
    await Promise.all(batches.map(async (batch) => {
      let failed: string[];
      try {
        failed = await this.deleteBatch(queueUrl, batch);
      } catch (error) {
        throw this.unavailable(queueUrl, error);
      }
      refused += failed.length;
      if (failed.length > 0) this.logger.warn({ queueUrl, messageIds: failed }, 'SQS refused to delete some acknowledged messages (receipt handle stale?); they will be redelivered');
    }));
    // A handle SQS deleted under a stale receipt handle is not told apart: SQS answers it as a success.
    return handles.length - entries.length + refused;
  }

  /**
   * Asks each queue of the subscription once a minute at most whether it exists, so a typo is a 503, not a silent stream.
   * A receive that fails drops every cached answer, so while SQS does not answer new streams get a 503 too.
   */
  async check(topics: readonly string[]): Promise<void> {
    const now = Date.now();
    await Promise.all(this.urls.plan(topics).map(async ({ queueUrl }) => {
      this.throwIfRefused(queueUrl, now);
      if ((this.checkedAt.get(queueUrl) ?? -Infinity) > now - CHECK_TTL_MS) return;
      try {
        await this.client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }), {
          abortSignal: AbortSignal.timeout(2_000),
        });
      } catch (error) {
        const known = this.unavailable(queueUrl, error);
        throw isRelayError(known) ? known : new RelayError('source_unavailable', 'SQS did not answer', { cause: error, retryAfterSeconds: 5 });
      }
      if (this.checkedAt.size > 1_000) this.checkedAt.clear();
      this.checkedAt.set(queueUrl, now);
    }));
  }

  /** With one queue: whether it answers GetQueueAttributes. With a template there is no one queue to ask, so true. */
  async isReady(): Promise<boolean> {
    const { queues } = this.settings;
    if (queues.kind === 'per-topic') return true;
    try {
      this.throwIfRefused(queues.url, Date.now());
      await this.client.send(new GetQueueAttributesCommand({ QueueUrl: queues.url, AttributeNames: ['QueueArn'] }), {
        abortSignal: AbortSignal.timeout(2_000),
      });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Before a Lambda sandbox freezes: waits for the last receive of every queue no stream reads any more (a long poll
   * left open would take messages into the frozen sandbox, invisible for the whole visibility timeout), then sends
   * every batched release and delete and waits for their answers.
   */
  async settle(): Promise<void> {
    // The ended streams' consumers queue their releases in the promise jobs that follow the end.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await Promise.all([...this.receivers.values()].map((receiver) => receiver.stopped()));
    await Promise.all([this.deleter.flush(), this.releaser.flush()]);
  }

  /** The process drains: every receiver's next receives wait briefly (see close). */
  drain(): void {
    this.draining = true;
    for (const receiver of this.receivers.values()) receiver.drain();
  }

  /**
   * Waits (at most CLOSE_WAIT_MS) for the last receive of every queue no stream reads any more, then stops every
   * consumer (their held messages are released), sends pending deletes and releases, and destroys the client. Aborting a
   * receive does not end it at SQS: an abandoned long poll still takes the next messages, which then stay invisible for
   * the whole visibility timeout, and so does one cut by the process's exit.
   */
  async close(): Promise<void> {
    for (const receiver of this.receivers.values()) receiver.close();
    const answered = Promise.all([...this.receivers.values()].map((receiver) => receiver.stopped()));
    const waited = new AbortController();
    await Promise.race([answered, sleep(CLOSE_WAIT_MS, waited.signal)]);
    waited.abort();
    this.closing.abort();
    await Promise.all([this.deleter.flush(), this.releaser.flush()]);
    this.client.destroy();
  }

  // A receive of this queue failed for good a moment ago: the same failure, until its Retry-After has passed.
  private throwIfRefused(queueUrl: string, now: number): void {
    const refused = this.refusedUntil.get(queueUrl);
    if (refused === undefined) return;
    if (refused.until > now) throw refused.failure;
    this.refusedUntil.delete(queueUrl);
  }

  private unavailable(queueUrl: string, error: unknown): unknown {
    const failure = classifySqsError(error);
    if (failure !== 'missing-queue' && failure !== 'permanent') return error;
    this.checkedAt.delete(queueUrl);
    this.logger.error({ queueUrl, err: error }, failure === 'missing-queue' ? 'SQS queue does not exist' : 'SQS refused the call');
    return sqsUnavailable(queueUrl, failure, error);
  }

  private async deleteBatch(queueUrl: string, entries: readonly ReceiptEntry[]): Promise<string[]> {
    const out = await this.client.send(new DeleteMessageBatchCommand({
      QueueUrl: queueUrl, Entries: entries.map((e, i) => ({ Id: String(i), ReceiptHandle: e.receiptHandle })),
    }));
    return (out.Failed ?? []).map((f) => entries[Number(f.Id)]?.messageId ?? String(f.Id));
  }

  private async releaseBatch(queueUrl: string, entries: readonly ReceiptEntry[]): Promise<string[]> {
    const out = await this.client.send(new ChangeMessageVisibilityBatchCommand({
      QueueUrl: queueUrl, Entries: entries.map((e, i) => ({ Id: String(i), ReceiptHandle: e.receiptHandle, VisibilityTimeout: e.releaseAfterSeconds ?? 0 })),
    }));
    return (out.Failed ?? []).map((f) => entries[Number(f.Id)]?.messageId ?? String(f.Id));
  }
}
