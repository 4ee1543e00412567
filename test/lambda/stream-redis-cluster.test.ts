import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSecretsStandIn, type SecretsStandIn } from '../support/lambda/aws-secrets-stand-in.js';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { redisCli } from '../support/redis-cli.js';
import { startCluster, type TestCluster } from '../support/redis-cluster.js';
import { SseReader } from '../support/sse-reader.js';
import { waitFor } from '../support/wait-for.js';

// stream and publish, bundled as shipped, under aws-lambda-ric, reaching a Redis Cluster with a password the way the
// template's redisClusterNodes / redisPasswordFrom parameters set them up: REDIS_CLUSTER_NODES, and
// REDIS_PASSWORD_FROM read from a local stand-in of SSM. A URL cannot reach such a Redis (the relay refuses one in
// cluster mode), so this is the only way a Lambda stack reaches ElastiCache Serverless.
const PASSWORD = 'a-cluster-password-from-ssm';
let taskRoot: string;
let cluster: TestCluster;
let standIn: SecretsStandIn;
const functions: LambdaFunction[] = [];

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-cluster-'));
  await bundleFunctions(taskRoot, ['stream', 'publish']);
  cluster = await startCluster();
  // Replicas authenticate to their primaries first, then every node asks clients for the password.
  for (const port of cluster.ports) await redisCli(port, 'CONFIG', 'SET', 'masterauth', PASSWORD);
  for (const port of cluster.ports) await redisCli(port, 'CONFIG', 'SET', 'requirepass', PASSWORD);
  standIn = await startSecretsStandIn({ '/sse-relay/test/redis-password': PASSWORD }, {});
}, 60_000);

afterAll(async () => {
  await Promise.all(functions.map((fn) => fn.stop()));
  await standIn?.close();
  await cluster?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

function start(handler: string, extra: Record<string, string> = {}): Promise<LambdaFunction> {
  const env = {
    SOURCE: 'redis', AUTH_MODE: 'none', LOG_LEVEL: 'info', SHUTDOWN_DRAIN_MS: '200',
    REDIS_CLUSTER_NODES: cluster.nodes, REDIS_PASSWORD_FROM: 'ssm:/sse-relay/test/redis-password',
    AWS_ENDPOINT_URL_SSM: standIn.url, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
    ...extra,
  };
  return startLambdaFunction({ taskRoot, handler, env, ...(handler.startsWith('functions/publish') ? { mode: 'buffered' as const } : {}), maxConcurrency: 2 })
    .then((fn) => (functions.push(fn), fn));
}

async function publish(url: string, topic: string, data: string): Promise<number> {
  const response = await fetch(`${url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic, data }) });
  await response.arrayBuffer();
  return response.status;
}

describe('the Lambda functions on a Redis Cluster (REDIS_CLUSTER_NODES, REDIS_PASSWORD_FROM)', () => {
  it('publish and stream through the cluster, with the password read by name, and resume after a reconnect', async () => {
    const [publisher, stream] = await Promise.all([start('functions/publish.handler'), start('functions/stream.handler')]);
    // Two topics of different partitions, so the stream reads two of the cluster's blocking readers.
    const reader = new SseReader(`${stream.url}/events?topic=orders&topic=news`);
    // Two cold starts under the runtime client, the password from the stand-in and the cluster's slot map: slow on a loaded machine.
    await reader.until((r) => r.status !== 0 && r.retries.length > 0, 40_000);
    expect(reader.status).toBe(200);
    // A cold publish function on a fresh cluster may answer 503 (Retry-After) while ioredis learns the slots, as a
    // producer is told to retry: the first write is retried on a topic nobody reads.
    await waitFor(async () => (await publish(publisher.url, 'scratch', 'ready?')) === 202, 'the publish function to take a write', { timeoutMs: 30_000, everyMs: 250 });
    for (const [topic, data] of [['orders', 'o1'], ['news', 'n1'], ['orders', 'o2']] as const) expect(await publish(publisher.url, topic, data)).toBe(202);
    await reader.until((r) => r.events.length >= 3, 10_000);
    expect(reader.events.map((e) => e.data).sort()).toEqual(['n1', 'o1', 'o2']);
    const lastId = reader.events.at(-1)?.id ?? '';
    reader.close();
    await reader.ended;

    // What is published while the client is away reaches it when it comes back with its Last-Event-ID.
    expect(await publish(publisher.url, 'news', 'n2')).toBe(202);
    const resumed = new SseReader(`${stream.url}/events?topic=orders&topic=news`, { 'last-event-id': lastId });
    await resumed.until((r) => r.events.length >= 1, 10_000);
    expect(resumed.events.map((e) => e.data)).toEqual(['n2']);
    resumed.close();
    await resumed.ended;
    // The password never reaches a log line.
    expect(publisher.logs() + stream.logs()).not.toContain(PASSWORD);
  }, 90_000);

  it('answers 503 source_unavailable, naming nothing secret, when the password it reads is wrong', async () => {
    const wrong = await startSecretsStandIn({ '/sse-relay/test/redis-password': 'not-the-password' }, {});
    try {
      const stream = await start('functions/stream.handler', { AWS_ENDPOINT_URL_SSM: wrong.url });
      const response = await fetch(`${stream.url}/events?topic=orders`);
      expect([response.status, ((await response.json()) as { error: string }).error]).toEqual([503, 'source_unavailable']);
      expect(stream.logs()).not.toContain('not-the-password');
    } finally {
      await wrong.close();
    }
  }, 60_000);
});
