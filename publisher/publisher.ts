import { unknownField } from '../lib/sse/field-rules.js';
import { checkMessage, DEFAULT_MAX_MESSAGE_BYTES, type PublishMessage } from './message.js';
import { checkOptionNames } from './options.js';
import { PublishError } from './publish-error.js';
import type { Published, PublishTransport } from './transport.js';

/** Options of createPublisher. */
export interface PublisherOptions {
  /** Largest `data` accepted, UTF-8 bytes; match the relay's MAX_MESSAGE_BYTES. Default 65536. */
  maxMessageBytes?: number;
}

/** Publishes messages the relay will deliver exactly as given, through one transport. */
export interface Publisher {
  /**
   * Publishes one message; resolves with the relay's id for it.
   *
   * @throws {PublishError} (a rejection) the relay's code when the message is refused by the publisher's own check or
   *   by the relay (`invalid_topic`, `message_too_large`, `forbidden`…), `unavailable` when the transport could not
   *   deliver it (network, 5xx after the retries, no answer within the transport's timeoutMs).
   */
  publish(topic: string, data: unknown, options?: { event?: string; id?: string }): Promise<Published>;
  /**
   * Publishes several messages in order. Every message is checked before any is sent. When it rejects, some of them may
   * already be published: give each message an `id`, and sending the batch again stores each one once (the automatic
   * ids of the http transport are new on every call, and a message without `id` sent twice is stored twice). The SQS
   * transport sends again, by itself, only the entries SQS failed on its side, since a standard queue stores whatever
   * it is sent twice whatever its `id`; its error then says how many of the call were stored.
   *
   * @throws {PublishError} (a rejection) as publish(); a batch that is not an array, or any message that fails the check,
   *   rejects before anything is sent.
   */
  publishBatch(messages: readonly PublishMessage[]): Promise<Published[]>;
  /** Closes what the transport opened itself. */
  close(): Promise<void>;
}

/** The options of publish(topic, data, options). */
const PUBLISH_OPTIONS: readonly string[] = ['event', 'id'];

/**
 * Checks each message against the relay's field rules before handing it to `transport`.
 *
 * @throws {PublishError} `invalid_config`, at once, for a missing transport, options that are not an object, an
 *   unknown option or a maxMessageBytes that is not a whole number ≥ 1.
 * @example
 *   const publisher = createPublisher(httpTransport({ url: 'https://relay.example.com', token: process.env.SSE_RELAY_TOKEN }));
 *   await publisher.publish('orders', { id: 42 }, { event: 'created', id: 'order-42-created' });
 */
export function createPublisher(transport: PublishTransport, options: PublisherOptions = {}): Publisher {
  if (typeof (transport as Partial<PublishTransport> | undefined)?.send !== 'function') {
    throw new PublishError('invalid_config', 'createPublisher needs a transport: httpTransport({ url, token }), redisTransport({ redis }) or sqsTransport({ client, queueUrl })');
  }
  checkOptionNames('createPublisher', options, ['maxMessageBytes']);
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  // NaN (an unset environment variable) would turn the size check off, and a Redis or SQS relay skips an oversized
  // message later with only a log line on its side.
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new PublishError('invalid_config', `maxMessageBytes must be a whole number ≥ 1, the relay's MAX_MESSAGE_BYTES; got ${String(maxBytes)}`);
  }
  return {
    publish: async (topic, data, extra = {}) => {
      // publish('orders', data, 'created') would otherwise spread the string's characters and send event `message`.
      if (typeof extra !== 'object' || extra === null) throw new PublishError('invalid_body', `publish options are an object { event?, id? }; got ${JSON.stringify(extra)}`);
      // A misspelt option (`evnet`) would otherwise publish a plain `message` quietly, and a topic here is ignored.
      const unknown = unknownField(extra, PUBLISH_OPTIONS);
      if (unknown !== undefined) throw new PublishError('invalid_body', `unknown option ${JSON.stringify(unknown)}: publish options are { event?, id? }`);
      return transport.send(checkMessage({ topic, data, ...extra }, maxBytes)).catch(asPublishError);
    },
    publishBatch: async (messages) => {
      if (!Array.isArray(messages)) throw new PublishError('invalid_body', 'publishBatch takes an array of messages');
      const checked = messages.map((m) => checkMessage(m, maxBytes));
      if (transport.sendBatch !== undefined) return transport.sendBatch(checked).catch(asPublishError);
      const out: Published[] = [];
      for (const message of checked) out.push(await transport.send(message).catch(asPublishError));
      return out;
    },
    close: async () => transport.close?.(),
  };
}

/** What a transport's client threw (ioredis, the AWS SDK) as the documented PublishError `unavailable`, with its cause. */
function asPublishError(error: unknown): never {
  if (error instanceof PublishError) throw error;
  const why = error instanceof Error ? error.message : String(error);
  throw new PublishError('unavailable', `the transport could not deliver the message: ${why}`, undefined, { cause: error });
}
