import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/lambda/bundle-functions.js';
import { ConfigError, loadConfig, type Env } from '../../lib/config/index.js';
import { FLUSH_PADDING_RANGE } from '../../lib/config/lambda-config.js';
import { isExactOrigin } from '../../lib/request.js';
import { isTemplateTopic } from '../../lib/sources/sqs/queue-urls.js';
import { TOPIC_PATTERN } from '../../lib/sse/topics.js';

// The package step (serverless/sse-relay-plugin.cjs) and the functions (lib/config) judge the same values: a value the
// package step takes must not stop every function at init, and a value the functions take is refused at package only
// for a reason of the Lambda deployment, each listed below. Fast: no packaging, the plugin's checks are called directly.
const load = createRequire(import.meta.url);
const plugin = load(join(REPO_ROOT, 'serverless', 'sse-relay-plugin.cjs')) as { problems: (p: Record<string, unknown>) => string[] };
const rules = load(join(REPO_ROOT, 'serverless', 'runtime-rules.cjs')) as { TOPIC_PATTERN: RegExp; FLUSH_PADDING_RANGE: { min: number; max: number } };

const VALID = {
  source: 'redis', redisUrlFrom: '', redisUrl: 'redis://cache.example.com:6379', authMode: 'none', jwtSecretFrom: '', jwksUrl: '',
  allowedOrigin: 'https://app.example.com', streamVpc: 'none', publishVpc: 'none', ingestVpc: 'none', subnetIds: '', securityGroupIds: '',
  streamConcurrency: '100', ingestMaxConcurrency: '5', flushPaddingBytes: '0', redisClusterNodes: '', redisTls: 'false', redisUsername: '', redisPasswordFrom: '',
  sqsQueues: 'shared', sqsQueuePrefix: 'sse-relay-prod-topic-', sqsTopics: '', topicDeadLetterQueue: 'sse-relay-prod-topics-dlq',
  secretsKmsKeyArn: '', alarmTopicArn: '', logLevel: 'info',
};
// What serverless.yml gives the functions with VALID: REDIS_URL and AUTH_MODE=none; QUEUE_ACK=client for every function.
const BASE_ENV: Env = { SOURCE: 'redis', REDIS_URL: 'redis://cache.example.com:6379', AUTH_MODE: 'none', QUEUE_ACK: 'client' };
const SQS_ENV: Env = { SOURCE: 'sqs', AUTH_MODE: 'none', QUEUE_ACK: 'client', SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sse-relay-prod-events' };
const TEMPLATE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/sse-relay-prod-topic-{topic}';

/** The functions' verdict: does loadConfig (as on Lambda) refuse the variable? */
function runtimeTakes(env: Env, variable: string): boolean {
  try {
    loadConfig(env, 'lambda');
    return true;
  } catch (error) {
    if (error instanceof ConfigError && error.variable === variable) return false;
    throw error;
  }
}

/** The package step's verdict on one parameter (messages that name another parameter are not its). */
function packageTakes(change: Record<string, unknown>, param: string): boolean {
  return plugin.problems({ ...VALID, ...change }).every((message) => !message.includes(param));
}

interface Case { param: string; variable: string; values: string[]; change?: (v: string) => Record<string, unknown>; env?: (v: string) => Env }

const CASES: Case[] = [
  { param: 'flushPaddingBytes', variable: 'FLUSH_PADDING_BYTES', values: ['0', '1', '2', '3', '512', '3072', '65536', '65537', '-1', '-0', '007', ' 42 ', '1e3', '0x400', '16.0', 'abc', '99999999999999999999'] },
  { param: 'logLevel', variable: 'LOG_LEVEL', values: ['info', 'silent', 'trace', ' warn ', 'INFO', 'verbose'] },
  { param: 'authMode', variable: 'AUTH_MODE', values: ['none', 'jwt', ' none', 'JWT', 'off'], change: (v) => ({ authMode: v, jwksUrl: 'https://id.example.com/jwks.json' }), env: (v) => ({ ...BASE_ENV, AUTH_MODE: v, AUTH_JWKS_URL: 'https://id.example.com/jwks.json' }) },
  {
    param: 'jwksUrl', variable: 'AUTH_JWKS_URL',
    values: ['https://id.example.com/jwks.json', 'https://id.example.com:8443/.well-known/jwks.json', 'https://user:pw@id.example.com/jwks.json', 'https://user@id.example.com/jwks.json', 'http://id.example.com/jwks.json', 'http://localhost:9000/jwks', 'ftp://id.example.com/jwks', 'https://[', 'jwks'],
    change: (v) => ({ authMode: 'jwt', jwksUrl: v }), env: (v) => ({ ...BASE_ENV, AUTH_MODE: 'jwt', AUTH_JWKS_URL: v }),
  },
  {
    param: 'redisUrl', variable: 'REDIS_URL',
    values: ['redis://cache.example.com:6379', 'rediss://cache.example.com:6380/2', 'redis://cache.example.com/sse', 'redis://cache.example.com/1.5', 'redis://cache.example.com:6379?db=x', 'redis://', 'http://cache.example.com', 'rediss://u:p@cache.example.com:6380'],
    env: (v) => ({ ...BASE_ENV, REDIS_URL: v }),
  },
  {
    param: 'redisClusterNodes', variable: 'REDIS_CLUSTER_NODES',
    values: ['10.0.0.1:6379', 'a:6379,b:6380', 'a:6379,', '[::1]:6379', 'a', 'a:0', 'a:70000', 'a :6379'],
    change: (v) => ({ redisUrl: '', redisClusterNodes: v }), env: (v) => ({ ...BASE_ENV, REDIS_URL: '', REDIS_CLUSTER_NODES: v }),
  },
  {
    param: 'redisTls', variable: 'REDIS_TLS', values: ['true', 'false', 'TRUE', 'on', 'off', '1', 'maybe'],
    change: (v) => ({ redisUrl: '', redisClusterNodes: 'a:6379', redisTls: v }), env: (v) => ({ ...BASE_ENV, REDIS_URL: '', REDIS_CLUSTER_NODES: 'a:6379', REDIS_TLS: v }),
  },
  {
    param: 'jwtSecretFrom', variable: 'AUTH_JWT_SECRET_FROM',
    values: ['ssm:/sse-relay/prod/jwt', 'ssm:jwt', 'secretsmanager:sse-relay/jwt', 'arn:aws:ssm:eu-west-1:123456789012:parameter/sse-relay/jwt', 'vault:/x', 'hunter2', 'ssm:/a b'],
    change: (v) => ({ jwtSecretFrom: v }), env: (v) => ({ ...BASE_ENV, AUTH_JWT_SECRET_FROM: v }),
  },
  {
    // A shared queue serves its one topic (SQS_QUEUE_TOPICS).
    param: 'sqsTopics', variable: 'SQS_QUEUE_TOPICS', values: ['jobs', 'user.42:inbox', 'a_b-c', 'a b', '-jobs', '.jobs', 'x/y', 'ö', 't'.repeat(128), 't'.repeat(129)],
    change: (v) => ({ source: 'sqs', redisUrl: '', sqsTopics: v }), env: (v) => ({ ...SQS_ENV, SQS_QUEUE_TOPICS: v }),
  },
];

// Refused at package although the functions take it, each for a reason of the Lambda deployment.
const STRICTER: Record<string, string[]> = {
  // A Lambda sandbox has no loopback sidecar serving keys; http:// is for that case only.
  jwksUrl: ['http://localhost:9000/jwks'],
  // Credentials would be written into the template: redisUrlFrom names a stored URL instead.
  redisUrl: ['rediss://u:p@cache.example.com:6380'],
};

describe('package step and functions agree on every parameter that becomes a variable', () => {
  it('share the rules the plugin copies from lib/ (topic, flush padding)', () => {
    expect(rules.TOPIC_PATTERN.source).toBe(TOPIC_PATTERN.source);
    expect(rules.FLUSH_PADDING_RANGE).toEqual(FLUSH_PADDING_RANGE);
  });

  it.each(CASES.map((c): [string, Case] => [c.param, c]))('%s', (_name, { param, variable, values, change, env }) => {
    const verdicts = values.map((value) => {
      const atPackage = packageTakes(change === undefined ? { [param]: value } : change(value), param);
      const atRuntime = runtimeTakes(env === undefined ? { ...BASE_ENV, [variable]: value } : env(value), variable);
      return { value, atPackage, atRuntime };
    });
    const expected = verdicts.map(({ value, atRuntime }) => ({ value, atPackage: atRuntime && !(STRICTER[param] ?? []).includes(value), atRuntime }));
    expect(verdicts).toEqual(expected);
  });

  it('allowedOrigin: the rule of CORS_ORIGINS (an origin exactly as a browser sends it)', () => {
    const values = ['https://app.example.com', 'http://localhost:8080', 'https://[::1]:8443', 'https://App.example.com', 'https://app.example.com:443', 'https://app.example.com/', 'https://app.example.com:99999', 'https://*.example.com', '*', 'http://1.2.3', 'null'];
    const verdicts = values.map((value) => ({ value, atPackage: packageTakes({ allowedOrigin: value }, 'allowedOrigin'), atRuntime: runtimeTakes({ ...BASE_ENV, CORS_ORIGINS: value }, 'CORS_ORIGINS') }));
    expect(verdicts).toEqual(values.map((value) => ({ value, atPackage: isExactOrigin(value), atRuntime: isExactOrigin(value) })));
    expect(verdicts.filter((v) => v.atPackage).map((v) => v.value)).toEqual(['https://app.example.com', 'http://localhost:8080', 'https://[::1]:8443']);
  });

  it('sqsTopics with one queue per topic: what the functions take through SQS_QUEUE_URL_TEMPLATE, named in the message', () => {
    const values = ['orders', 'user-42', 'a_b', 'a.b', 'a:b', 'a b', '-x', 't'.repeat(59), 't'.repeat(60)];
    const found = values.map((value) => plugin.problems({ ...VALID, source: 'sqs', redisUrl: '', sqsQueues: 'per-topic', sqsTopics: value }));
    expect(found.map((messages) => messages.length === 0)).toEqual(values.map((value) => isTemplateTopic(TEMPLATE, value) && TOPIC_PATTERN.test(value)));
    found.forEach((messages, i) => messages.forEach((message) => expect(message).toContain(values[i] as string)));
    expect(found[5]).toEqual(['sqsTopics: "a b" is not a topic: 1 to 128 letters, digits, _ . : or -, starting with a letter or digit (as the relay checks every topic)']);
  });
});

describe('package checks of the parameters the template uses as they are', () => {
  const vpc = (subnets: number, groups: number): Record<string, unknown> => ({
    publishVpc: 'enabled',
    subnetIds: Array.from({ length: subnets }, (_, i) => `subnet-${(0x0a1b2c00 + i).toString(16).padStart(8, '0')}`).join(','),
    securityGroupIds: Array.from({ length: groups }, (_, i) => `sg-${(0x0123ab00 + i).toString(16).padStart(8, '0')}`).join(','),
  });

  it.each([
    [vpc(16, 5), []],
    [vpc(17, 5), ['subnetIds lists 17 ids; a Lambda function takes at most 16']],
    [vpc(2, 6), ['securityGroupIds lists 6 ids; a Lambda function takes at most 5']],
    [{ publishVpc: 'enabled', subnetIds: 'subnet-0a1b2c3d,subnet-0a1b2c3d', securityGroupIds: 'sg-0123abcd' }, ['subnetIds lists subnet-0a1b2c3d more than once']],
    [{ publishVpc: 'enabled', subnetIds: 'subnet-0a1b2c3d', securityGroupIds: 'sg-0123ABCD' }, ['securityGroupIds must be sg-… ids separated by commas alone (no spaces); not "sg-0123ABCD"']],
    [{ source: 'sqs', redisUrl: '', sqsTopics: 'jobs/42' }, ['sqsTopics: "jobs/42" is not a topic']],
    [{ flushPaddingBytes: '1' }, ['flushPaddingBytes must be 0 (off) or a whole number from 2 to 65536']],
    [{ authMode: 'jwt', jwksUrl: 'https://keys:s3cret@id.example.com/jwks.json' }, ['jwksUrl must be an https:// URL without user:password@: "https://***@id.example.com/jwks.json" carries user:password@']],
    [{ authMode: 'jwt', jwksUrl: 'http://id.example.com/jwks.json' }, ['jwksUrl must be an https:// URL without user:password@: "http://id.example.com/jwks.json" must be https://']],
    [{ allowedOrigin: 'https://App.example.com' }, ['allowedOrigin must be one exact origin']],
    [{ allowedOrigin: 'https://app.example.com:443' }, ['allowedOrigin must be one exact origin']],
  ])('%j → %j', (change, expected) => {
    const found = plugin.problems({ ...VALID, ...change });
    expect(found).toHaveLength(expected.length);
    expected.forEach((start, i) => expect(found[i]).toContain(start));
  });

  it('never shows a jwksUrl\'s password', () => {
    expect(plugin.problems({ ...VALID, authMode: 'jwt', jwksUrl: 'https://keys:s3cret@id.example.com/jwks.json' }).join('\n')).not.toContain('s3cret');
  });
});

describe('serverless/stack-names.cjs: --stage, --region and --param names', () => {
  const names = load(join(REPO_ROOT, 'serverless', 'stack-names.cjs')) as {
    generatedNames: (service: Record<string, unknown>, stage: string) => { name: string; most: number; what: string }[];
    stageProblems: (stage: string, names: { name: string; most: number; what: string }[]) => string[];
    regionProblems: (region: string) => string[];
    unknownParamProblems: (given: string[], known: string[], replaced: Record<string, string>) => string[];
    declaredParams: (configuration: Record<string, unknown>) => string[];
  };
  // The names serverless.yml makes from the stage: the three functions and the queues.
  const service = (stage: string): Record<string, unknown> => ({
    service: 'sse-relay', functions: { stream: {}, publish: {}, ingest: {} },
    resources: { Resources: { IngestQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `sse-relay-${stage}-ingest` } }, TopicDeadLetterQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `sse-relay-${stage}-topics-dlq` } } } },
  });
  const stage = (text: string): string[] => names.stageProblems(text, names.generatedNames(service(text), text));

  it('takes a stage up to 46 characters (sse-relay-<stage>-publish ≤ 64), and letters, digits and hyphens only', () => {
    expect(stage('prod')).toEqual([]);
    expect(stage('a'.repeat(46))).toEqual([]);
    expect(stage('a'.repeat(47))).toEqual([`--stage "${'a'.repeat(47)}" is 47 characters: the function name sse-relay-${'a'.repeat(47)}-publish would be 65, and AWS allows 64; use a stage of at most 46 characters`]);
    for (const bad of ['prod_eu', 'prod.1', 'prod eu', 'prød']) expect(stage(bad)).toEqual([`--stage "${bad}" may hold only letters, digits and hyphens: it is part of the stack, function and queue names`]);
  });

  it('takes AWS region names and nothing else', () => {
    for (const region of ['us-east-1', 'eu-central-2', 'ap-southeast-4', 'us-gov-west-1', 'cn-northwest-1', 'il-central-1', 'us-isob-east-1', 'eusc-de-east-1']) expect([region, names.regionProblems(region)]).toEqual([region, []]);
    for (const region of ['eu-west-1a', 'EU-WEST-1', 'euwest1', 'eu-west', 'us_east_1', 'frankfurt']) expect(names.regionProblems(region)[0]).toContain(`--region "${region}" is not an AWS region`);
  });

  it('refuses a --param serverless.yml does not declare, naming the nearest it does', () => {
    const known = names.declaredParams({ params: { default: { allowedOrigin: 'x', flushPaddingBytes: 0, sqsTopics: '' }, prod: { logLevel: 'warn' } } });
    expect(known).toEqual(['allowedOrigin', 'flushPaddingBytes', 'sqsTopics', 'logLevel']);
    expect(names.unknownParamProblems(['allowedOrigins', 'flushPadding', 'sqstopics', 'loglevel', 'logLevel', 'jwtSecret'], known, { jwtSecret: 'jwtSecretFrom' })).toEqual([
      '--param allowedOrigins is not a parameter of this template; did you mean allowedOrigin?',
      '--param flushPadding is not a parameter of this template; did you mean flushPaddingBytes?',
      '--param sqstopics is not a parameter of this template; did you mean sqsTopics?',
      '--param loglevel is not a parameter of this template; did you mean logLevel?',
    ]);
  });
});
