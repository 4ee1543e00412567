/**
 * `sse-relay/publisher`: publish messages that the relay delivers exactly as given, over HTTP (POST /publish), straight
 * into Redis (streams or lists) or into SQS. Every message is checked against the relay's field rules first.
 */
export { createPublisher, type Publisher, type PublisherOptions } from './publisher.js';
export { checkMessage, DEFAULT_MAX_MESSAGE_BYTES, type CheckedMessage, type PublishMessage } from './message.js';
export { PublishError } from './publish-error.js';
export type { Published, PublishTransport } from './transport.js';
export { httpTransport, type HttpRetry, type HttpTransportOptions } from './http-transport.js';
export { redisTransport, type RedisTransportOptions } from './redis-transport.js';
export { sqsTransport, type SqsTransportOptions } from './sqs-transport.js';
export { parseTtl, signToken, type SignTokenOptions, type TokenGrants } from './token.js';
