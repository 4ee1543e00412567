import { afterAll, expect, test } from '@jest/globals';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Cluster, Redis } from 'ioredis';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createPublisher, redisTransport, sqsTransport, type RedisTransportOptions } from '../../publisher/index.js';

// A Redis or SQS endpoint that accepts the connection and never answers (a black-holed network, a server stuck in a
// long command): ioredis waits on a command, and the AWS SDK on a request, for ever. With timeoutMs the publish fails
// with an error that names the wait, so a producer can retry or give up.

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

/** A TCP server on an ephemeral loopback port that reads everything and answers nothing. */
async function silentServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => (sockets.add(socket), socket.resume()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(resolve);
  }));
  return (server.address() as AddressInfo).port;
}

test('redisTransport: a Redis that never answers fails the publish after timeoutMs, naming it (it hung before)', async () => {
  const redis = new Redis({ host: '127.0.0.1', port: await silentServer(), maxRetriesPerRequest: null, enableReadyCheck: false });
  cleanups.push(async () => redis.disconnect());
  for (const mode of ['stream', 'list'] as const) {
    const publisher = createPublisher(redisTransport({ redis, mode, timeoutMs: 100 }));
    await expect(publisher.publish('orders', { id: 1 })).rejects.toMatchObject({
      name: 'PublishError', code: 'unavailable',
      message: expect.stringMatching(/^Redis \(\w+\) gave no answer within timeoutMs \(100 ms\); the wait stopped, but a write already sent may still be stored: retry with the same id$/),
    });
  }
});

test('redisTransport on a Cluster that never answers: the cluster-partitions check before the write is bounded by timeoutMs too', async () => {
  const cluster = new Cluster([{ host: '127.0.0.1', port: await silentServer() }], { enableReadyCheck: false });
  cleanups.push(async () => cluster.disconnect());
  const publisher = createPublisher(redisTransport({ redis: cluster, timeoutMs: 100 }));
  await expect(publisher.publish('orders', { id: 1 })).rejects.toMatchObject({
    name: 'PublishError', code: 'unavailable', message: expect.stringMatching(/^Redis \(the cluster-partitions check\) gave no answer within timeoutMs \(100 ms\)/),
  });
});

test('sqsTransport: an SQS endpoint that never answers fails the publish and the batch after timeoutMs (they hung before)', async () => {
  const client = new SQSClient({
    region: 'eu-west-1', endpoint: `http://127.0.0.1:${await silentServer()}`, credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  cleanups.push(async () => client.destroy());
  const publisher = createPublisher(sqsTransport({ client, queueUrl: 'http://127.0.0.1/000000000000/orders', timeoutMs: 100 }));
  await expect(publisher.publish('orders', { id: 1 })).rejects.toMatchObject({
    name: 'PublishError', code: 'unavailable', message: expect.stringContaining('SQS (SendMessage) gave no answer within timeoutMs (100 ms); the wait stopped'),
  });
  await expect(publisher.publishBatch([{ topic: 'orders', data: 1 }, { topic: 'orders', data: 2 }])).rejects.toMatchObject({
    code: 'unavailable', message: expect.stringContaining('SQS (SendMessageBatch) gave no answer within timeoutMs (100 ms)'),
  });
});

test('timeoutMs and the other options of redisTransport and sqsTransport are checked at construction', () => {
  const redis = new Redis({ lazyConnect: true });
  cleanups.push(async () => redis.disconnect());
  const config = (text: string): unknown => expect.objectContaining({ name: 'PublishError', code: 'invalid_config', message: expect.stringContaining(text) });
  expect(() => redisTransport({ redis, timeoutMs: 0 })).toThrow(config('redisTransport timeoutMs must be a whole number of ms from 1 to 2147483647; got 0'));
  expect(() => redisTransport({ redis, waitReplicas: 1, waitTimeoutMs: 5000, timeoutMs: 2000 })).toThrow(config('timeoutMs (2000) must be above waitTimeoutMs (5000) when waitReplicas is set'));
  expect(() => redisTransport({ redis, timeout: 5 } as unknown as RedisTransportOptions)).toThrow(config('redisTransport: unknown option "timeout"'));
  expect(() => redisTransport(undefined as unknown as RedisTransportOptions)).toThrow(config('redisTransport takes an options object'));
  const client = new SQSClient({ region: 'eu-west-1' });
  cleanups.push(async () => client.destroy());
  expect(() => sqsTransport({ client, queueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/q', timeoutMs: -1 })).toThrow(config('sqsTransport timeoutMs must be'));
  expect(() => sqsTransport({ client, queueURL: 'https://sqs.eu-west-1.amazonaws.com/1/q' } as never)).toThrow(config('sqsTransport: unknown option "queueURL"'));
});
