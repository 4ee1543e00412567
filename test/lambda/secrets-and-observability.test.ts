import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSecretsStandIn, type SecretsStandIn } from '../support/lambda/aws-secrets-stand-in.js';
import { bundleFunctions } from '../support/lambda/bundle-functions.js';
import { startLambdaFunction, type LambdaFunction } from '../support/lambda/run-function.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';

// publish and stream, bundled as shipped, under aws-lambda-ric: secrets named by SSM / Secrets Manager names and read
// from a local stand-in of those services; log lines and CloudWatch embedded metrics as the function writes them.
const JWT_SECRET = 'a-jwt-secret-from-ssm-that-is-longer-than-32-bytes';
// A Redis URL whose password holds an unescaped `/`: it does not parse, and its check quoted it, password and all.
const BAD_REDIS_PASSWORD = 'pw-with/slash-s3cret';
let taskRoot: string;
let redis: TestRedis;
let standIn: SecretsStandIn;
let publisher: LambdaFunction;
let env: Record<string, string>;

beforeAll(async () => {
  taskRoot = await mkdtemp(join(tmpdir(), 'sse-relay-lambda-secrets-'));
  await bundleFunctions(taskRoot, ['stream', 'publish']);
  redis = await startRedis();
  standIn = await startSecretsStandIn({ '/sse-relay/test/jwt-secret': JWT_SECRET }, { 'sse-relay/test/redis-url': redis.url, 'sse-relay/test/bad-redis-url': `rediss://default:${BAD_REDIS_PASSWORD}@cache.example.com:6380` });
  env = {
    SOURCE: 'redis', AUTH_MODE: 'jwt', LOG_LEVEL: 'info',
    AUTH_JWT_SECRET_FROM: 'ssm:/sse-relay/test/jwt-secret', REDIS_URL_FROM: 'secretsmanager:sse-relay/test/redis-url',
    AWS_ENDPOINT_URL_SSM: standIn.url, AWS_ENDPOINT_URL_SECRETS_MANAGER: standIn.url,
    AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
  };
  publisher = await startLambdaFunction({ taskRoot, handler: 'functions/publish.handler', env, mode: 'buffered', maxConcurrency: 1 });
}, 30_000);

afterAll(async () => {
  await publisher?.stop();
  await standIn?.close();
  await redis?.stop();
  await rm(taskRoot, { recursive: true, force: true });
});

function token(secret: string): Promise<string> {
  return new SignJWT({ sub: 'alice', sse: { subscribe: ['*'], publish: ['*'] } }).setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('5m').sign(new TextEncoder().encode(secret));
}

function publishWith(url: string, bearer: string, data: string): Promise<Response> {
  return fetch(`${url}/publish`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ topic: 'news', data }),
  });
}

describe('secrets named in the environment (SSM SecureString, Secrets Manager)', () => {
  it('are read once per sandbox, decrypted, and used: the JWT secret checks tokens, the Redis URL reaches Redis', async () => {
    const good = await token(JWT_SECRET);
    for (const data of ['one', 'two', 'three']) expect((await publishWith(publisher.url, good, data)).status).toBe(202);
    expect((await publishWith(publisher.url, await token('another-secret-that-is-also-32-bytes-long!!'), 'x')).status).toBe(401);
    const client = new Redis(redis.url);
    expect(await client.xlen('sse:news')).toBe(3);
    client.disconnect();
    // Read concurrently at init, so in either order; exactly once each over four invocations.
    expect([...standIn.calls].sort((a, b) => a.target.localeCompare(b.target))).toEqual([
      { target: 'AmazonSSM.GetParameter', body: { Name: '/sse-relay/test/jwt-secret', WithDecryption: true } },
      { target: 'secretsmanager.GetSecretValue', body: { SecretId: 'sse-relay/test/redis-url' } },
    ]);
    expect(publisher.coldStartsMs()).toHaveLength(1);
    // The value never reaches a log line.
    expect(publisher.logs()).not.toContain(JWT_SECRET);
  });

  it('answer 500 internal when a name does not exist, logging the variable and the name but no value', async () => {
    const fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env: { ...env, AUTH_JWT_SECRET_FROM: 'ssm:/sse-relay/test/missing' }, maxConcurrency: 1 });
    try {
      const response = await fetch(`${fn.url}/events?topic=news`);
      expect([response.status, await response.json()]).toMatchObject([500, { error: 'internal' }]);
      expect(fn.logs()).toMatch(/AUTH_JWT_SECRET_FROM: cannot read ssm:\/sse-relay\/test\/missing \(ParameterNotFound/);
      expect(fn.logs()).not.toContain(redis.url);
    } finally {
      await fn.stop();
    }
  });

  it('answer 500 internal when a value read fails its check, logging the variable, the name and the rule but not the value', async () => {
    const fn = await startLambdaFunction({ taskRoot, handler: 'functions/stream.handler', env: { ...env, REDIS_URL_FROM: 'secretsmanager:sse-relay/test/bad-redis-url' }, maxConcurrency: 1 });
    try {
      const response = await fetch(`${fn.url}/events?topic=news`);
      expect([response.status, await response.json()]).toMatchObject([500, { error: 'internal' }]);
      expect(fn.logs()).toMatch(/REDIS_URL, read from REDIS_URL_FROM \(secretsmanager:sse-relay\/test\/bad-redis-url\), must be a URL starting with redis:\/\/ or rediss:\/\//);
      for (const part of [BAD_REDIS_PASSWORD, 'slash-s3cret', JWT_SECRET]) expect(fn.logs()).not.toContain(part);
    } finally {
      await fn.stop();
    }
  });
});

describe('observability on Lambda', () => {
  it('tags every log line of an invocation with its awsRequestId', async () => {
    const response = await publishWith(publisher.url, await token(JWT_SECRET), 'tagged');
    expect(response.status).toBe(202);
    const lines = publisher.logs().split('\n').filter((line) => line.startsWith('{"level"'));
    const requestLines = lines.map((line) => JSON.parse(line) as { msg: string; path?: string; awsRequestId?: string }).filter((l) => l.path === '/publish');
    expect(requestLines.length).toBeGreaterThanOrEqual(4);
    for (const line of requestLines) expect(line.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(requestLines.map((l) => l.awsRequestId)).size).toBe(requestLines.length);
  });

  it('emits counters as CloudWatch embedded metric lines, one per invocation that moved them', () => {
    const emf = publisher.logs().split('\n').filter((line) => line.includes('"_aws"')).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(emf.length).toBeGreaterThanOrEqual(4);
    const first = emf[0] as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }; FunctionName: string };
    expect(first._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'sse-relay', Dimensions: [['FunctionName']] });
    expect(first._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name)).toContain('sse_events_published_total');
    expect(first.FunctionName).toBe('sse-relay-test');
    const published = emf.reduce((sum, line) => sum + Number(line['sse_events_published_total'] ?? 0), 0);
    expect(published).toBe(4); // three, then 'tagged'; the refused one counts as an auth failure, not a publish
    expect(emf.reduce((sum, line) => sum + Number(line['sse_auth_unauthorized_total'] ?? 0), 0)).toBe(1);
  });

  it('answers /metrics with 404 on the function URLs (per-sandbox counts mean nothing there)', async () => {
    const response = await fetch(`${publisher.url}/metrics`);
    expect([response.status, await response.json()]).toMatchObject([404, { error: 'not_found' }]);
  });
});
