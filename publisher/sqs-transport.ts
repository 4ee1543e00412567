import { SendMessageBatchCommand, SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import { EVENT_ATTRIBUTE, fifoDeduplicationId, sqsBodyProblem, TOPIC_ATTRIBUTE } from '../lib/sources/sqs/message.js';
import { isFifoQueue, isQueueUrlTemplate, QUEUE_URL_TEMPLATE_FORM, SqsQueueUrls } from '../lib/sources/sqs/queue-urls.js';
import { isRelayError } from '../lib/errors.js';
import { classifySqsError } from '../lib/sources/sqs/retry.js';
import type { CheckedMessage } from './message.js';
import { withDeadline } from './deadline.js';
import { checkOptionNames, checkTimeoutMs } from './options.js';
import { PublishError } from './publish-error.js';
import type { Published, PublishTransport } from './transport.js';

/** Options of sqsTransport; give one of queueUrl / queueUrlTemplate, as the relay's SQS_QUEUE_URL(_TEMPLATE). */
export interface SqsTransportOptions {
  /** An SQSClient you own (it is not destroyed by the publisher). */
  client: SQSClient;
  /** One queue for every topic (messages carry a `topic` attribute). */
  queueUrl?: string;
  /** One queue per topic: `{topic}` is replaced by the topic. */
  queueUrlTemplate?: string;
  /**
   * Longest wait for SQS to answer one SendMessage / SendMessageBatch call, ms, the SDK's own retries included (an
   * endpoint that never answers would otherwise hold the publish for ever); the request is then aborted and the publish
   * rejects with PublishError `unavailable`. It stops the wait, not a request already sent: SQS may still store the
   * message, so on a standard queue a retry can store it twice. Default 10000.
   */
  timeoutMs?: number;
}

const OPTION_NAMES: readonly string[] = ['client', 'queueUrl', 'queueUrlTemplate', 'timeoutMs'];
const DEFAULT_TIMEOUT_MS = 10_000;

const BATCH_SIZE = 10;
/** SendMessageBatch calls for one batch, the first included, while SQS fails some entries on its side. */
const BATCH_ATTEMPTS = 3;
const BATCH_RETRY_MS = 100;

/**
 * SendMessage / SendMessageBatch in the shape the relay reads (docs/sqs.md): body = data, attributes `topic` (always)
 * and `event` (unless `message`); on a FIFO queue `MessageGroupId` = topic and `MessageDeduplicationId` = SHA-256 of
 * the topic and the message `id` (a random one without), exactly as the relay's own publish.
 *
 * @throws {PublishError} `invalid_config`, at once: no SQSClient, an unknown option, a queueUrl that is not a URL, a
 *   template without `{topic}` once, a timeoutMs out of range. Its `send` rejects with PublishError
 *   `unsupported_message` for a body SQS cannot store, `invalid_topic`, and `unavailable` when SQS fails or gives no
 *   answer within timeoutMs.
 */
export function sqsTransport(options: SqsTransportOptions): PublishTransport {
  // Without a client every send would fail as `unavailable`, which a producer retries for ever.
  if (typeof (options?.client as Partial<SQSClient> | undefined)?.send !== 'function') {
    throw new PublishError('invalid_config', 'sqsTransport needs client: an SQSClient from @aws-sdk/client-sqs (new SQSClient({ region }))');
  }
  checkOptionNames('sqsTransport', options, OPTION_NAMES);
  checkTimeoutMs('sqsTransport', options.timeoutMs);
  const urlOf = queueUrlOf(options);
  const client = bounded(options.client, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return {
    send: async (message) => {
      storable(message);
      const out = await client.send(new SendMessageCommand({ QueueUrl: urlOf(message.topic), ...entry(message, urlOf(message.topic)) }))
        .catch(refusedAsUnsupported);
      return { id: out.MessageId ?? '' };
    },
    sendBatch: async (messages) => {
      // Every body is checked before the first call, so a refused one never leaves the batch half sent.
      messages.forEach(storable);
      const results: Published[] = [];
      // Consecutive messages to one queue go together, up to 10 per call; order is kept.
      for (let start = 0; start < messages.length;) {
        const queueUrl = urlOf((messages[start] as CheckedMessage).topic);
        let end = start;
        while (end < messages.length && end - start < BATCH_SIZE && urlOf((messages[end] as CheckedMessage).topic) === queueUrl) end++;
        results.push(...(await sendBatch(client, queueUrl, messages.slice(start, end))));
        start = end;
      }
      return results;
    },
  };
}

/**
 * The client with every call aborted after `timeoutMs` (the SDK's abortSignal cancels the request and its retries), and
 * the abort reported as PublishError `unavailable` naming the timeout rather than the SDK's "Request aborted".
 */
function bounded(client: SQSClient, timeoutMs: number): Pick<SQSClient, 'send'> {
  const send = async (command: Parameters<SQSClient['send']>[0]): Promise<unknown> => {
    const controller = new AbortController();
    const what = `SQS (${command.constructor.name.replace(/Command$/, '')})`;
    try {
      // withDeadline also settles when an SDK version ignores the signal while it waits (connecting, a retry's delay).
      return await withDeadline(client.send(command, { abortSignal: controller.signal }), timeoutMs, what);
    } catch (error) {
      if (error instanceof PublishError) controller.abort();
      throw error;
    }
  };
  return { send } as Pick<SQSClient, 'send'>;
}

/**
 * A body SQS would refuse (empty, or a character outside its set) is refused here with the code POST /publish answers
 * for it (400 `unsupported_message`): sent, it would come back as a transport failure, `unavailable`, which a producer
 * retries for ever.
 */
function storable(message: CheckedMessage): void {
  const problem = sqsBodyProblem(message.data);
  if (problem !== undefined) throw new PublishError('unsupported_message', problem);
}

/** SQS's own refusal of a message (InvalidMessageContents, too long…) as `unsupported_message`, not `unavailable`. */
function refusedAsUnsupported(error: unknown): never {
  if (classifySqsError(error) !== 'refused-message') throw error;
  throw new PublishError('unsupported_message', `SQS refused the message: ${error instanceof Error ? error.message : String(error)}`, undefined, { cause: error });
}

/**
 * SendMessageBatch, with the entries SQS failed on its side (`SenderFault` false: throttling, an internal error) sent
 * again, up to BATCH_ATTEMPTS calls in all. SQS stores the other entries of such a call, so sending the whole batch
 * again would store them twice on a standard queue (a FIFO queue drops them as duplicates, a standard one does not).
 * An entry refused as malformed (`SenderFault` true) is not sent again: it is `unsupported_message`.
 */
async function sendBatch(client: Pick<SQSClient, 'send'>, queueUrl: string, batch: readonly CheckedMessage[]): Promise<Published[]> {
  const ids = new Array<string | undefined>(batch.length);
  let pending = batch.map((_message, i) => i);
  for (let attempt = 1; ; attempt++) {
    const out = await client.send(new SendMessageBatchCommand({
      QueueUrl: queueUrl, Entries: pending.map((i) => ({ Id: String(i), ...entry(batch[i] as CheckedMessage, queueUrl) })),
    }));
    for (const done of out.Successful ?? []) ids[Number(done.Id)] = done.MessageId ?? '';
    const failed = out.Failed ?? [];
    if (failed.length === 0) return ids.map((id) => ({ id: id ?? '' }));
    const refused = failed.find((f) => f.SenderFault === true);
    if (refused !== undefined || attempt === BATCH_ATTEMPTS) {
      const first = refused ?? failed[0];
      const stored = ids.filter((id) => id !== undefined).length;
      throw new PublishError(refused === undefined ? 'unavailable' : 'unsupported_message',
        `SQS stored ${stored} of ${batch.length} messages of this call and failed ${failed.length} after ${attempt} attempts (first: ${first?.Code}: ${first?.Message})`);
    }
    pending = failed.map((f) => Number(f.Id));
    await new Promise((resolve) => setTimeout(resolve, BATCH_RETRY_MS * attempt));
  }
}

function entry(message: CheckedMessage, queueUrl: string): { MessageBody: string; MessageAttributes: Record<string, MessageAttributeValue>; MessageGroupId?: string; MessageDeduplicationId?: string } {
  const attributes: Record<string, MessageAttributeValue> = { [TOPIC_ATTRIBUTE]: { DataType: 'String', StringValue: message.topic } };
  if (message.event !== 'message') attributes[EVENT_ATTRIBUTE] = { DataType: 'String', StringValue: message.event };
  if (!isFifoQueue(queueUrl)) return { MessageBody: message.data, MessageAttributes: attributes };
  return { MessageBody: message.data, MessageAttributes: attributes, MessageGroupId: message.topic, MessageDeduplicationId: fifoDeduplicationId(message.topic, message.id) };
}

/** The queue of each topic, mapped by the relay's own SqsQueueUrls (the same topic rules, the same template). */
function queueUrlOf({ queueUrl, queueUrlTemplate }: SqsTransportOptions): (topic: string) => string {
  let queues: SqsQueueUrls;
  if (queueUrlTemplate !== undefined) {
    if (typeof queueUrlTemplate !== 'string' || !isQueueUrlTemplate(queueUrlTemplate)) {
      throw new PublishError('invalid_config', `sqsTransport queueUrlTemplate must be ${QUEUE_URL_TEMPLATE_FORM}, as SQS_QUEUE_URL_TEMPLATE; got ${JSON.stringify(queueUrlTemplate)}`);
    }
    queues = new SqsQueueUrls({ kind: 'per-topic', template: queueUrlTemplate });
  } else {
    if (queueUrl === undefined) throw new PublishError('invalid_config', 'sqsTransport needs queueUrl or queueUrlTemplate');
    // A queue name where the URL belongs: SQS answers "queue does not exist", which reads as `unavailable`.
    if (typeof queueUrl !== 'string' || !/^https?:\/\//.test(queueUrl) || !URL.canParse(queueUrl)) {
      throw new PublishError('invalid_config', `sqsTransport queueUrl must be the queue's URL (https://sqs.<region>.amazonaws.com/<account>/<name>, as SQS_QUEUE_URL); got ${JSON.stringify(queueUrl)}`);
    }
    queues = new SqsQueueUrls({ kind: 'shared', url: queueUrl });
  }
  return (topic) => {
    try {
      return queues.urlOf(topic);
    } catch (error) {
      throw isRelayError(error) ? new PublishError(error.code, error.message, undefined, { cause: error }) : error;
    }
  };
}
