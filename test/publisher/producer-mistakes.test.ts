import { afterAll, expect, test } from '@jest/globals';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createPublisher, httpTransport, redisTransport, sqsTransport, type PublishMessage, type PublishTransport } from '../../publisher/index.js';
import { freePort } from '../support/nginx.js';
import { startRelay } from '../support/relay-server.js';

// The mistakes a producer makes on a first try, each of which used to pass silently or surface as a TypeError (or as
// `unavailable`, which a producer retries for ever). Each must be a PublishError that names what was wrong and how to
// fix it, before anything is sent.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

function recording(): { transport: PublishTransport; sent: unknown[] } {
  const sent: unknown[] = [];
  return { sent, transport: { send: async (m) => (sent.push(m), { id: 'x' }) } };
}

test('a misspelt option or message field (`evnet`) is refused naming it, instead of publishing a plain `message`', async () => {
  const { transport, sent } = recording();
  const publisher = createPublisher(transport);
  await expect(publisher.publish('orders', 1, { evnet: 'created' } as unknown as { event: string }))
    .rejects.toMatchObject({ name: 'PublishError', code: 'invalid_body', message: expect.stringContaining('"evnet"') });
  await expect(publisher.publishBatch([{ topic: 'orders', data: 1, evnet: 'created' } as unknown as PublishMessage]))
    .rejects.toMatchObject({ name: 'PublishError', code: 'invalid_body', message: expect.stringContaining('"evnet"') });
  // The options object is not where the topic or the data go.
  await expect(publisher.publish('orders', 1, { topic: 'other' } as unknown as { event: string }))
    .rejects.toMatchObject({ code: 'invalid_body', message: expect.stringContaining('"topic"') });
  expect(sent).toEqual([]);
  // The right names still pass, with undefined for an absent one.
  await publisher.publish('orders', 1, { event: 'created', id: undefined });
  expect(sent).toHaveLength(1);
});

test('a transport missing or of the wrong kind is PublishError invalid_config at once, saying what to pass', async () => {
  expect(() => createPublisher(undefined as unknown as PublishTransport))
    .toThrow(expect.objectContaining({ name: 'PublishError', code: 'invalid_config', message: expect.stringContaining('httpTransport') }));
  // The URL where the client belongs.
  expect(() => redisTransport({ redis: 'redis://127.0.0.1:6379' as never }))
    .toThrow(expect.objectContaining({ name: 'PublishError', code: 'invalid_config', message: expect.stringContaining('new Redis(url)') }));
  expect(() => sqsTransport({ client: undefined as unknown as SQSClient, queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/orders' }))
    .toThrow(expect.objectContaining({ name: 'PublishError', code: 'invalid_config', message: expect.stringContaining('new SQSClient') }));
  const client = new SQSClient({ region: 'eu-west-1' });
  cleanups.push(async () => client.destroy());
  // A queue name where its URL belongs (SQS would answer "queue does not exist", read as `unavailable`).
  expect(() => sqsTransport({ client, queueUrl: 'orders' }))
    .toThrow(expect.objectContaining({ name: 'PublishError', code: 'invalid_config', message: expect.stringContaining('queueUrl') }));
});

test('createPublisher options: not an object, or an unknown name, is invalid_config naming it', () => {
  const { transport } = recording();
  // null crashed on `options.maxMessageBytes`; a misspelt name was ignored and the default limit used.
  expect(() => createPublisher(transport, null as never)).toThrow(expect.objectContaining({ code: 'invalid_config', message: 'createPublisher takes an options object { maxMessageBytes }; got null' }));
  expect(() => createPublisher(transport, { maxBytes: 1024 } as never))
    .toThrow(expect.objectContaining({ code: 'invalid_config', message: 'createPublisher: unknown option "maxBytes"; the options are maxMessageBytes' }));
});

test('http transport: a url that already ends in /publish gets an error saying url is the base URL', async () => {
  const relay = await startRelay();
  cleanups.push(() => relay.stop());
  const publisher = createPublisher(httpTransport({ url: `${relay.url}/publish`, retries: 0 }));
  await expect(publisher.publish('orders', 1)).rejects.toMatchObject({
    name: 'PublishError', code: 'not_found', status: 404, message: expect.stringContaining('base URL'),
  });
  // A token function that returns something else than a string is a mistake of the caller, not a 401 from the relay.
  const numeric = createPublisher(httpTransport({ url: relay.url, retries: 0, token: () => 42 as unknown as string }));
  await expect(numeric.publish('orders', 1)).rejects.toMatchObject({ name: 'PublishError', code: 'invalid_config', message: expect.stringContaining('token') });
});

test('sqsTransport takes a queueUrlTemplate on the relay\'s terms (an http(s) URL with {topic} once), and maps topics as the relay does', async () => {
  const client = new SQSClient({ region: 'eu-west-1' });
  cleanups.push(async () => client.destroy());
  // The relay refuses these as SQS_QUEUE_URL_TEMPLATE; a producer given one would write to queues no relay reads.
  for (const queueUrlTemplate of ['https://sqs.eu-west-1.amazonaws.com/1/{topic}-{topic}', 'orders-{topic}', 'https://sqs.eu-west-1.amazonaws.com/1/orders']) {
    expect(() => sqsTransport({ client, queueUrlTemplate }))
      .toThrow(expect.objectContaining({ name: 'PublishError', code: 'invalid_config', message: expect.stringContaining('{topic} once') }));
  }
  // A topic that cannot name a queue is the relay's invalid_topic, before anything is sent.
  const publisher = createPublisher(sqsTransport({ client, queueUrlTemplate: 'https://sqs.eu-west-1.amazonaws.com/1/{topic}' }));
  await expect(publisher.publish('or.ders', 1)).rejects.toMatchObject({ name: 'PublishError', code: 'invalid_topic', message: expect.stringContaining('letters, digits, - and _') });
});

test('http transport: a relay that does not answer is named with the network\'s reason, not only "no answer"', async () => {
  const closed = createPublisher(httpTransport({ url: `http://127.0.0.1:${await freePort()}`, retries: 0 }));
  await expect(closed.publish('orders', 1)).rejects.toMatchObject({ name: 'PublishError', code: 'unavailable', message: expect.stringContaining('ECONNREFUSED') });
  // A port the Fetch standard blocks fails before any connection, with only a message.
  const blocked = createPublisher(httpTransport({ url: 'http://127.0.0.1:6000', retries: 0 }));
  await expect(blocked.publish('orders', 1)).rejects.toMatchObject({ name: 'PublishError', code: 'unavailable', message: expect.stringContaining('bad port') });
});
