import type { CheckedMessage } from './message.js';

/** What a transport answers for one message: the relay's id for it (a stream position, a queue message id). */
export interface Published {
  id: string;
}

/** One way to hand messages to the relay. Transports: httpTransport, redisTransport, sqsTransport. */
export interface PublishTransport {
  send(message: CheckedMessage): Promise<Published>;
  /** Several messages at once, in order (SQS: SendMessageBatch); falls back to one send per message. */
  sendBatch?(messages: readonly CheckedMessage[]): Promise<Published[]>;
  /** Releases what the transport opened itself (never a client it was given). */
  close?(): Promise<void>;
}
