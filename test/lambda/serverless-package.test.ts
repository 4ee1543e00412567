import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { bundleEntryParts, REPO_ROOT } from '../support/lambda/bundle-functions.js';
import { effectiveStack, roleStatements, type Statement, type Template, unresolvedReferences } from '../support/lambda/cloudformation.js';
import { CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS, CORS_MAX_AGE_SECONDS } from '../../lib/http/cors.js';
import { LOG_LEVELS } from '../../lib/logger.js';

// `serverless package` (osls, the dev dependency) runs offline, each configuration in its own copy of the service, so
// parallel runs and the working tree never see .serverless/ and .esbuild/. Dummy credentials: packaging never calls AWS.
const run = promisify(execFile);
const CLI = join(REPO_ROOT, 'node_modules', '.bin', 'serverless');
const dirs: string[] = [];

interface Packaged { output: string; raw: string; stack: Template; out: string }

async function serviceCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sse-relay-sls-'));
  dirs.push(dir);
  for (const entry of ['serverless.yml', 'serverless', 'package.json', 'tsconfig.json', 'lib', 'functions']) {
    await cp(join(REPO_ROOT, entry), join(dir, entry), { recursive: true });
  }
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** Runs `serverless <args>` in a fresh copy; resolves with its output, or rejects with it. */
async function serverless(args: string[]): Promise<{ dir: string; output: string }> {
  const dir = await serviceCopy();
  const env = {
    PATH: process.env['PATH'] ?? '', HOME: dir, AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'dummy',
    AWS_REGION: 'eu-west-1', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', SLS_DEPRECATION_DISABLE: '*',
  };
  try {
    const result = await run(CLI, args, { cwd: dir, env, timeout: 240_000 });
    return { dir, output: `${result.stdout}\n${result.stderr}` };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(`${failed.stdout ?? ''}\n${failed.stderr ?? ''}`, { cause: error });
  }
}

/** `serverless package` of one documented command (deploy becomes package: offline, same template). */
async function packageCommand(command: string): Promise<Packaged> {
  const words = shellWords(command).slice(2);
  if (words[0] === 'deploy') words[0] = 'package';
  const args = words.includes('--region') ? words : [...words, '--region', 'eu-west-1'];
  const { dir, output } = await serverless([...args, '--package', 'out']);
  const raw = await readFile(join(dir, 'out', 'cloudformation-template-update-stack.json'), 'utf8');
  return { output, raw, stack: effectiveStack(JSON.parse(raw) as Template), out: join(dir, 'out') };
}

/** Splits a documented command line into words: double quotes group, `\` + newline continues. */
function shellWords(command: string): string[] {
  return [...command.replace(/\\\n/g, ' ').matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '')
    .map((word) => word.replace(/^--param="?([^"]*)"?$/, '--param=$1'));
}

/** Every `npx serverless deploy|package` command in the README's and docs/lambda.md's shell blocks. */
function documentedCommands(): string[] {
  const commands: string[] = [];
  for (const file of ['README.md', 'docs/lambda.md']) {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
      const lines = (block[1] ?? '').replace(/\\\n\s*/g, '\\\n').split(/(?<!\\)\n/);
      commands.push(...lines.map((line) => line.trim()).filter((line) => /^npx serverless (deploy|package)\b/.test(line)));
    }
  }
  return commands;
}

const COMMANDS = documentedCommands();
const PROD = COMMANDS.find((c) => c.includes('redisUrlFrom=') && c.includes('jwtSecretFrom=') && !c.includes('source='));
const QUEUE = COMMANDS.find((c) => c.includes('source=sqs') && !c.includes('sqsQueues=per-topic'));
const TOPIC_QUEUES = COMMANDS.find((c) => c.includes('source=sqs') && c.includes('sqsQueues=per-topic') && c.includes('sqsTopics='));
const CLUSTER = COMMANDS.find((c) => c.includes('redisClusterNodes='));
const VPC_ARGS = ['--param=ingestVpc=enabled', '--param=publishVpc=enabled', '--param=subnetIds=subnet-0a1b2c3d,subnet-0123456789abcdef0', '--param=securityGroupIds=sg-0123abcd'];
const packaged = new Map<string, Packaged>();

beforeAll(async () => {
  if (PROD === undefined || QUEUE === undefined || TOPIC_QUEUES === undefined || CLUSTER === undefined) {
    throw new Error(`README/docs lack the production, the source=sqs, the sqsQueues=per-topic or the redisClusterNodes command: ${JSON.stringify(COMMANDS)}`);
  }
  const vpc = `${PROD} ${VPC_ARGS.join(' ')}`;
  const list = `${PROD} --param=source=redis-list`;
  const all = [...new Set([...COMMANDS, vpc, list])];
  // Two at a time: each run bundles three functions, and the machine is shared.
  for (let i = 0; i < all.length; i += 2) {
    const pair = all.slice(i, i + 2);
    const results = await Promise.all(pair.map(packageCommand));
    pair.forEach((command, j) => packaged.set(command, results[j] as Packaged));
  }
  packaged.set('vpc', packaged.get(vpc) as Packaged);
  packaged.set('redis-list', packaged.get(list) as Packaged);
}, 400_000);

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

const stackOf = (key: string | undefined): Template => (packaged.get(key ?? '') as Packaged).stack;
const props = (stack: Template, name: string): Record<string, unknown> => {
  const found = stack.Resources[name];
  if (found === undefined) throw new Error(`no ${name} in the stack; it has ${Object.keys(stack.Resources).join(', ')}`);
  return found.Properties;
};
const variables = (stack: Template, fn: string): Record<string, unknown> => (props(stack, `${fn}LambdaFunction`)['Environment'] as { Variables: Record<string, unknown> }).Variables;
const sqsStatements = (statements: Statement[]): Statement[] => statements.filter((s) => s.Action.some((a) => a.startsWith('sqs:')));

describe('the deploy commands of README.md and docs/lambda.md', () => {
  it('are there (production, queue mode shared and per topic, local) and each packages, validating apart from the v4-only `build` key', () => {
    expect(COMMANDS.length).toBeGreaterThanOrEqual(4);
    for (const command of COMMANDS) {
      const problems = (packaged.get(command) as Packaged).output.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('at '));
      expect([command, problems]).toEqual([command, ["at root: unrecognized property 'build'"]]);
    }
  });
});

describe('serverless.yml → CloudFormation (serverless package, offline)', () => {
  it('runs every function on nodejs22.x, arm64, from the esbuild .mjs bundle, each with its own role', () => {
    const stack = stackOf(PROD);
    for (const name of ['Stream', 'Publish', 'Ingest']) {
      expect(props(stack, `${name}LambdaFunction`)).toMatchObject({
        Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: `functions/${name.toLowerCase()}.handler`,
        Role: { 'Fn::GetAtt': [`${name}Role`, 'Arn'] },
      });
    }
    expect(stack.Resources['IamRoleLambdaExecution']).toBeUndefined();
    expect(existsSync(join((packaged.get(PROD!) as Packaged).out, 'stream.zip'))).toBe(true);
  });

  it('references only resources it declares, in every stack: CloudFormation refuses a dangling Ref whatever its condition', () => {
    // Conditions do not help: "Unresolved resource dependencies" is a template format error, raised before any condition
    // is evaluated. The queue-mode and redis-list stacks leave the ingest function out; nothing may still name it.
    for (const [command, { raw }] of packaged) expect([command, unresolvedReferences(JSON.parse(raw) as Template)]).toEqual([command, []]);
  });

  it('does not turn on source maps by default: Node would read every chunk\'s map at each cold start', () => {
    const stack = stackOf(PROD);
    for (const name of ['Stream', 'Publish', 'Ingest']) expect(String(variables(stack, name)['NODE_OPTIONS'] ?? '')).not.toMatch(/source-maps/);
  });

  it('zips into each function its entry and exactly the chunks that entry imports (statically or with import())', async () => {
    const { out } = packaged.get(PROD!) as Packaged;
    // Chunk names without their content hash: esbuild's own account of what the entry reaches (its metafile) is the
    // reference, independent of how the packaging step follows the imports.
    const stems = (files: string[]): string[] => files.map((f) => basename(f).replace(/-[A-Z0-9]{8}\.mjs$/, '')).sort();
    const chunkSets: string[][] = [];
    for (const name of ['stream', 'publish', 'ingest']) {
      const listed = (await run('unzip', ['-Z1', join(out, `${name}.zip`)])).stdout.split('\n').filter((f) => f.endsWith('.mjs'));
      expect(listed).toContain(`functions/${name}.mjs`);
      const chunks = listed.filter((f) => f.startsWith('functions/chunks/'));
      expect(chunks).toHaveLength(listed.length - 1);
      const reference = await bundleEntryParts(`functions/${name}.ts`, join(out, `reference-${name}`));
      // Nothing missing (a cold start would fail to import it), nothing another function needs and this one never loads.
      expect(stems(chunks)).toEqual(stems(reference.chunks.filter((f) => f.endsWith('.mjs'))));
      chunkSets.push(chunks);
    }
    // ioredis and the SQS client are chunks of their own: loaded only when SOURCE names them.
    expect(chunkSets[0]!.some((f) => /build-redis-source-/.test(f))).toBe(true);
    expect(chunkSets[0]!.some((f) => /build-sqs-source-/.test(f))).toBe(true);
    expect(chunkSets[2]!.some((f) => /build-sqs-source-/.test(f))).toBe(false);
  });

  it('holds the bundle sizes docs/lambda.md states (entry, loaded at cold start, gzipped, reachable; zips), within 3 % or 1 KiB', async () => {
    const { out } = packaged.get(PROD!) as Packaged;
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'lambda.md'), 'utf8');
    const close = (stated: number, measured: number): boolean => Math.abs(stated - measured) <= Math.max(1, 0.03 * measured);
    const kib = (bytes: number): number => bytes / 1024;
    // A relative import in esbuild's output: static (from"./x.mjs", import"./x.mjs") or dynamic (import("./x.mjs")).
    const follow = (entry: string, pattern: RegExp): Set<string> => {
      const seen = new Set([entry]);
      for (const file of seen) for (const m of readFileSync(file, 'utf8').matchAll(pattern)) seen.add(resolve(dirname(file), m[1] as string));
      return seen;
    };
    const bytes = (files: Set<string>): number => [...files].reduce((sum, file) => sum + statSync(file).size, 0);
    for (const name of ['stream', 'publish', 'ingest']) {
      const row = new RegExp(`^\\| \`${name}\` \\| \\d+ KiB \\| (\\d+) KiB \\| (\\d+) KiB \\| (\\d+) KiB \\| (\\d+) KiB \\((\\d+) chunks\\) \\|$`, 'm').exec(doc);
      expect([name, row !== null]).toEqual([name, true]);
      const [entryKiB, initialKiB, gzipKiB, reachableKiB, chunks] = (row as RegExpExecArray).slice(1).map(Number) as [number, number, number, number, number];
      const dir = join(out, `sizes-${name}`);
      await run('unzip', ['-q', '-o', join(out, `${name}.zip`), '-d', dir]);
      const entry = join(dir, 'functions', `${name}.mjs`);
      const initial = follow(entry, /(?:from|import)\s*"(\.{1,2}\/[^"]+\.mjs)"/g);
      const reachable = follow(entry, /(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+\.mjs)"/g);
      const measured = { entry: kib(statSync(entry).size), initial: kib(bytes(initial)), gzip: kib(gzipSync(readFileSync(entry)).byteLength), reachable: kib(bytes(reachable)), chunks: reachable.size - 1 };
      const stated = { entry: entryKiB, initial: initialKiB, gzip: gzipKiB, reachable: reachableKiB, chunks };
      const off = (Object.keys(stated) as (keyof typeof stated)[]).filter((key) => key === 'chunks' ? stated[key] !== measured[key] : !close(stated[key], measured[key]));
      expect([name, off.map((key) => `${key}: docs ${stated[key]}, packaged ${measured[key].toFixed(1)}`)]).toEqual([name, []]);
      const zipKB = Number(new RegExp(`\\(\`serverless package\`\\):[^.]*\\b${name} (\\d+) KB`).exec(doc)?.[1]);
      const zipBytes = statSync(join(out, `${name}.zip`)).size;
      expect([name, 'zip KB', zipKB, Math.abs(zipKB - zipBytes / 1000) <= Math.max(1, 0.03 * zipBytes / 1000)]).toEqual([name, 'zip KB', zipKB, true]);
    }
  });

  it('gives stream a RESPONSE_STREAM function URL, a 900 s timeout and reserved concurrency; publish a buffered URL', () => {
    const stack = stackOf(PROD);
    expect(props(stack, 'StreamLambdaFunction')).toMatchObject({ Timeout: 900, ReservedConcurrentExecutions: 100, MemorySize: 256 });
    expect(props(stack, 'StreamLambdaFunctionUrl')).toMatchObject({ InvokeMode: 'RESPONSE_STREAM', AuthType: 'NONE' });
    expect(props(stack, 'PublishLambdaFunctionUrl')['InvokeMode'] ?? 'BUFFERED').toBe('BUFFERED');
    expect(props(stack, 'StreamLambdaFunction')['VpcConfig']).toBeUndefined();
  });

  it('lets anyone invoke both URLs: lambda:InvokeFunctionUrl and, as function URLs created since October 2025 need, lambda:InvokeFunction', () => {
    // Without the second grant (AWS's "urls-auth" page) a new NONE-auth URL answers 403 Forbidden to every request.
    for (const fn of ['Stream', 'Publish']) {
      const grants = Object.values(stackOf(PROD).Resources).filter((r) => r.Type === 'AWS::Lambda::Permission')
        .map((r) => r.Properties).filter((p) => JSON.stringify(p['FunctionName']) === JSON.stringify({ 'Fn::GetAtt': [`${fn}LambdaFunction`, 'Arn'] }));
      expect(grants).toEqual(expect.arrayContaining([
        expect.objectContaining({ Action: 'lambda:InvokeFunctionUrl', Principal: '*', FunctionUrlAuthType: 'NONE' }),
        expect.objectContaining({ Action: 'lambda:InvokeFunction', Principal: '*', InvokedViaFunctionUrl: true }),
      ]));
    }
  });

  it('gives both function URLs the container CORS policy: the one exact origin given, credentials, never *', () => {
    for (const [url, methods] of [['StreamLambdaFunctionUrl', ['GET', 'POST']], ['PublishLambdaFunctionUrl', ['POST']]] as const) {
      expect(props(stackOf(PROD), url)['Cors']).toEqual({
        AllowOrigins: ['https://app.example.com'], AllowCredentials: true, AllowHeaders: [...CORS_ALLOWED_HEADERS],
        ExposeHeaders: [...CORS_EXPOSED_HEADERS], AllowMethods: [...methods], MaxAge: CORS_MAX_AGE_SECONDS,
      });
    }
  });

  it('maps the ingest queue to the bridge with ReportBatchItemFailures and maximumConcurrency, and redrives to a DLQ', () => {
    const stack = stackOf(PROD);
    const mapping = Object.values(stack.Resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(mapping?.Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': ['IngestQueue', 'Arn'] }, FunctionResponseTypes: ['ReportBatchItemFailures'], BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    expect(props(stack, 'IngestQueue')['RedrivePolicy']).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': ['IngestDeadLetterQueue', 'Arn'] }, maxReceiveCount: 5 });
  });
});

describe('secrets by name', () => {
  it('puts only the names in the functions\' environment, and no secret value anywhere in the template', () => {
    const stack = stackOf(PROD);
    expect(variables(stack, 'Stream')).toMatchObject({ REDIS_URL_FROM: 'ssm:/sse-relay/prod/redis-url', AUTH_JWT_SECRET_FROM: 'ssm:/sse-relay/prod/jwt-secret', REDIS_URL: '' });
    expect(variables(stack, 'Ingest')).toMatchObject({ REDIS_URL_FROM: 'ssm:/sse-relay/prod/redis-url', AUTH_MODE: 'none' });
    for (const [command, { raw }] of packaged) {
      expect([command, raw.match(/"AUTH_JWT_SECRET"|rediss?:\/\/[^"\s]*:[^"\s]*@/g)]).toEqual([command, null]);
    }
  });

  it('grants each function ssm:GetParameter on exactly the parameters it is given, nothing on SSM otherwise', () => {
    const stack = stackOf(PROD);
    const arn = (name: string): unknown => ({ 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/sse-relay/prod/${name}` });
    const reads = (role: string): Statement[] => roleStatements(stack, role).filter((s) => s.Action.some((a) => /^(ssm|secretsmanager|kms):/.test(a)));
    expect(reads('StreamRole')).toEqual([{ Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [arn('jwt-secret'), arn('redis-url')] }]);
    expect(reads('PublishRole')).toEqual([{ Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [arn('jwt-secret'), arn('redis-url')] }]);
    expect(reads('IngestRole')).toEqual([{ Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [arn('redis-url')] }]);
  });

  it('reaches a Redis in cluster mode by its nodes, with TLS, the user and the password by name (ElastiCache Serverless)', () => {
    const stack = stackOf(CLUSTER);
    const nodes = 'my-cache-abc123.serverless.use1.cache.amazonaws.com:6379';
    for (const fn of ['Stream', 'Publish', 'Ingest']) {
      expect([fn, variables(stack, fn)]).toMatchObject([fn, { REDIS_CLUSTER_NODES: nodes, REDIS_TLS: 'true', REDIS_USERNAME: 'sse-relay', REDIS_PASSWORD_FROM: 'ssm:/sse-relay/prod/redis-password', REDIS_URL: '', REDIS_URL_FROM: '' }]);
    }
    const arn = (name: string): unknown => ({ 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter/sse-relay/prod/${name}` });
    const reads = (role: string): Statement[] => roleStatements(stack, role).filter((s) => s.Action.some((a) => /^(ssm|secretsmanager|kms):/.test(a)));
    expect(reads('StreamRole')).toEqual([{ Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [arn('jwt-secret'), arn('redis-password')] }]);
    expect(reads('IngestRole')).toEqual([{ Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [arn('redis-password')] }]);
  });

  it('refuses to package with what the source and auth mode need missing, or a secret by value, naming each parameter', async () => {
    // The matrix of checks is unit-tested below; this is the wiring: the CLI stops before packaging, with the message.
    const attempt = serverless(['package', '--stage', 'test', '--package', 'out', '--param=jwtSecret=0123456789abcdef0123456789abcdef']);
    await expect(attempt).rejects.toThrow(/jwtSecret is no longer a parameter[\s\S]*source=redis needs redisUrlFrom=[\s\S]*authMode=jwt needs jwtSecretFrom=/);
  }, 240_000);

  it('refuses a stage too long for the generated names, a region that is not one, an unknown --param (naming the nearest) and a topic the relay refuses', async () => {
    // One run for four checks: each is unit-tested in test/lambda/package-checks.test.ts; this is the CLI's wiring.
    const attempt = serverless(['package', '--stage', 'a'.repeat(47), '--region', 'eu-west-1a', '--package', 'out', '--param=source=sqs', '--param=authMode=none',
      '--param=sqsTopics=jobs/42', '--param=allowedOrigins=https://app.example.com', '--param=jwtSecret=0123456789abcdef0123456789abcdef']);
    const refused = await attempt.then(() => '', (error: unknown) => (error as Error).message);
    const reasons = refused.split('\n').filter((line) => line.startsWith('  - ')).map((line) => line.slice(4));
    expect(reasons).toEqual([
      expect.stringMatching(/^jwtSecret is no longer a parameter/),
      '--param allowedOrigins is not a parameter of this template; did you mean allowedOrigin?',
      `--stage "${'a'.repeat(47)}" is 47 characters: the function name sse-relay-${'a'.repeat(47)}-publish would be 65, and AWS allows 64; use a stage of at most 46 characters`,
      '--region "eu-west-1a" is not an AWS region (like us-east-1, eu-west-1 or us-gov-west-1; an availability zone such as eu-west-1a is not one)',
      'sqsTopics: "jobs/42" is not a topic: 1 to 128 letters, digits, _ . : or -, starting with a letter or digit (as the relay checks every topic)',
    ]);
    // At the bound, the same stage packages (and the generated names are what AWS takes).
    const { dir } = await serverless(['package', '--stage', 'a'.repeat(46), '--package', 'out', '--param=source=sqs', '--param=authMode=none', '--param=sqsTopics=jobs']);
    const names = Object.values((JSON.parse(await readFile(join(dir, 'out', 'cloudformation-template-update-stack.json'), 'utf8')) as Template).Resources)
      .map((r) => r.Properties['FunctionName']).filter((name): name is string => typeof name === 'string');
    expect(names.map((name) => name.length).sort()).toEqual([63, 64]);
  }, 240_000);

  it('refuses queue mode with one shared queue and several topics, naming sqsQueues=per-topic; warns when the topics are not named', async () => {
    const shared = ['package', '--stage', 'test', '--package', 'out', '--param=source=sqs', '--param=authMode=none'];
    await expect(serverless([...shared, '--param=sqsTopics=orders,user-42'])).rejects.toThrow(/sqsQueues=shared and 2 topics \(orders, user-42\) loses messages[\s\S]*Set sqsQueues=per-topic/);
    const { output } = await serverless(shared);
    expect(output).toContain('source=sqs with one shared queue is safe only while every browser reads the same topic');
  }, 240_000);
});

describe('least privilege, one role per function', () => {
  it('redis mode: no SQS action for stream or publish; ingest may read its own queue only', () => {
    const stack = stackOf(PROD);
    expect(sqsStatements(roleStatements(stack, 'StreamRole'))).toEqual([]);
    expect(sqsStatements(roleStatements(stack, 'PublishRole'))).toEqual([]);
    expect(sqsStatements(roleStatements(stack, 'IngestRole'))).toEqual([
      { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Resource: { 'Fn::GetAtt': ['IngestQueue', 'Arn'] } },
    ]);
  });

  it('queue mode: the stack creates the queue; stream receives from it, publish sends to it, and there is no bridge', () => {
    const stack = stackOf(QUEUE);
    expect(variables(stack, 'Stream')['SQS_QUEUE_URL']).toEqual({ Ref: 'EventsQueue' });
    expect(variables(stack, 'Publish')['SQS_QUEUE_URL']).toEqual({ Ref: 'EventsQueue' });
    // The documented shared-queue command names its one topic: both functions refuse every other (SQS_QUEUE_TOPICS).
    expect(QUEUE).toContain('sqsTopics=jobs');
    for (const fn of ['Stream', 'Publish']) expect(variables(stack, fn)['SQS_QUEUE_TOPICS']).toBe('jobs');
    const queue = { 'Fn::GetAtt': ['EventsQueue', 'Arn'] };
    expect(sqsStatements(roleStatements(stack, 'StreamRole'))).toEqual([
      { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], Resource: queue },
    ]);
    // DeleteMessage: POST /ack goes to the publish function, whose executions streams never hold; the stream tells
    // browsers so (QUEUE_ACK_URL → header sse-ack-url, which RelayClient follows).
    expect(variables(stack, 'Stream')['QUEUE_ACK_URL']).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['PublishLambdaFunctionUrl', 'FunctionUrl'] }, 'ack']] });
    expect(sqsStatements(roleStatements(stack, 'PublishRole'))).toEqual([{ Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:DeleteMessage'], Resource: queue }]);
    expect(props(stack, 'EventsQueue')['RedrivePolicy']).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] }, maxReceiveCount: 5 });
    for (const gone of ['IngestLambdaFunction', 'IngestQueue', 'IngestRole', 'TopicDeadLetterQueue']) expect(stack.Resources[gone]).toBeUndefined();
    expect(Object.keys(stack.Resources).filter((name) => name.startsWith('TopicQueue'))).toEqual([]);
  });

  it('queue mode per topic: a queue per listed topic redriving to one DLQ; stream and publish may use <prefix>* only', () => {
    const stack = stackOf(TOPIC_QUEUES);
    const prefix = 'sse-relay-prod-topic-';
    const template = { 'Fn::Sub': `https://sqs.\${AWS::Region}.\${AWS::URLSuffix}/\${AWS::AccountId}/${prefix}{topic}` };
    // Queues of topics outside sqsTopics may be created by hand (docs/lambda.md), so no topic is refused here.
    for (const fn of ['Stream', 'Publish']) expect(variables(stack, fn)).toMatchObject({ SQS_QUEUE_URL: '', SQS_QUEUE_URL_TEMPLATE: template, SQS_QUEUE_TOPICS: '' });
    const queues = Object.values(stack.Resources).filter((r) => r.Type === 'AWS::SQS::Queue').map((r) => r.Properties);
    const redrive = { deadLetterTargetArn: { 'Fn::GetAtt': ['TopicDeadLetterQueue', 'Arn'] }, maxReceiveCount: 5 };
    expect(queues.filter((q) => q['RedrivePolicy'] !== undefined)).toEqual(['orders', 'invoices'].map((topic) => ({ QueueName: `${prefix}${topic}`, VisibilityTimeout: 30, RedrivePolicy: redrive })));
    // The dead-letter queue is named outside the prefix: no stream can read it as a topic, no role may touch it.
    expect(props(stack, 'TopicDeadLetterQueue')).toEqual({ QueueName: 'sse-relay-prod-topics-dlq', MessageRetentionPeriod: 1209600 });
    expect('sse-relay-prod-topics-dlq'.startsWith(prefix)).toBe(false);
    const pattern = { 'Fn::Sub': `arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:${prefix}*` };
    expect(sqsStatements(roleStatements(stack, 'StreamRole'))).toEqual([
      { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], Resource: pattern },
    ]);
    expect(sqsStatements(roleStatements(stack, 'PublishRole'))).toEqual([{ Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:DeleteMessage'], Resource: pattern }]);
    for (const gone of ['EventsQueue', 'EventsDeadLetterQueue', 'EventsDeadLetterAlarm', 'IngestLambdaFunction']) expect(stack.Resources[gone]).toBeUndefined();
    expect(stack.Outputs).toMatchObject({ TopicQueueUrlTemplate: { Value: template }, TopicDeadLetterQueueArn: { Value: { 'Fn::GetAtt': ['TopicDeadLetterQueue', 'Arn'] } } });
  });

  it('no statement anywhere has a * action or resource (bar the log streams of a function\'s own log group)', () => {
    for (const [command, { stack }] of packaged) {
      for (const role of Object.keys(stack.Resources).filter((name) => stack.Resources[name]?.Type === 'AWS::IAM::Role')) {
        for (const statement of roleStatements(stack, role)) {
          for (const action of statement.Action) expect([command, action]).not.toEqual([command, expect.stringContaining('*')]);
          const resources = JSON.stringify(statement.Resource);
          if (statement.Action.every((a) => a.startsWith('logs:'))) {
            expect(resources).toMatch(new RegExp(`log-group:/aws/lambda/sse-relay-\\w+-${role.replace('Role', '').toLowerCase()}:\\*"`));
          } else if (statement.Action.every((a) => a.startsWith('sqs:')) && resources.includes('*')) {
            // sqsQueues=per-topic: the topic queues by their name prefix, the queues created later included.
            expect([command, role, resources]).toEqual([command, role, expect.stringMatching(/:sqs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:sse-relay-\w+-topic-\*"\}$/)]);
          } else {
            expect([command, role, resources]).not.toEqual([command, role, expect.stringContaining('*')]);
          }
        }
      }
    }
  });
});

describe('networking per function', () => {
  it('attaches only the functions asked for to the VPC, with the managed VPC policy on their roles only', () => {
    const stack = stackOf('vpc');
    expect(props(stack, 'StreamLambdaFunction')['VpcConfig']).toBeUndefined();
    for (const name of ['Publish', 'Ingest']) {
      expect(props(stack, `${name}LambdaFunction`)['VpcConfig']).toEqual({
        SubnetIds: { 'Fn::Split': [',', 'subnet-0a1b2c3d,subnet-0123456789abcdef0'] }, SecurityGroupIds: { 'Fn::Split': [',', 'sg-0123abcd'] },
      });
      expect(JSON.stringify(props(stack, `${name}Role`)['ManagedPolicyArns'])).toContain('AWSLambdaVPCAccessExecutionRole');
    }
    expect(props(stack, 'StreamRole')['ManagedPolicyArns']).toEqual([]);
  });
});

describe('alarms', () => {
  it('watch the dead-letter queue, the functions\' errors and stream\'s throttles', () => {
    const alarms = (stack: Template): string[] => Object.values(stack.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => `${r.Properties['Namespace']}/${r.Properties['MetricName']}/${JSON.stringify((r.Properties['Dimensions'] as { Value: unknown }[])[0]?.Value)}`).sort();
    expect(alarms(stackOf(PROD))).toEqual([
      'AWS/Lambda/Errors/{"Ref":"IngestLambdaFunction"}', 'AWS/Lambda/Errors/{"Ref":"PublishLambdaFunction"}',
      'AWS/Lambda/Errors/{"Ref":"StreamLambdaFunction"}', 'AWS/Lambda/Throttles/{"Ref":"StreamLambdaFunction"}',
      'AWS/SQS/ApproximateNumberOfMessagesVisible/{"Fn::GetAtt":["IngestDeadLetterQueue","QueueName"]}',
    ]);
    expect(alarms(stackOf(QUEUE))).toContain('AWS/SQS/ApproximateNumberOfMessagesVisible/{"Fn::GetAtt":["EventsDeadLetterQueue","QueueName"]}');
    expect(alarms(stackOf(TOPIC_QUEUES))).toContain('AWS/SQS/ApproximateNumberOfMessagesVisible/{"Fn::GetAtt":["TopicDeadLetterQueue","QueueName"]}');
  });
});

describe('serverless/sse-relay-plugin.cjs checks', () => {
  const { problems } = createRequire(import.meta.url)(join(REPO_ROOT, 'serverless', 'sse-relay-plugin.cjs')) as { problems: (p: Record<string, unknown>) => string[] };
  const valid = {
    source: 'redis', redisUrlFrom: 'ssm:/r', redisUrl: '', authMode: 'jwt', jwtSecretFrom: 'secretsmanager:j', jwksUrl: '',
    allowedOrigin: 'https://app.example.com', streamVpc: 'none', publishVpc: 'none', ingestVpc: 'none', subnetIds: '', securityGroupIds: '',
    streamConcurrency: 100, ingestMaxConcurrency: 5, flushPaddingBytes: 0,
    sqsQueues: 'shared', sqsQueuePrefix: 'sse-relay-prod-topic-', sqsTopics: '', topicDeadLetterQueue: 'sse-relay-prod-topics-dlq',
    secretsKmsKeyArn: '', alarmTopicArn: '', logLevel: 'info',
  };

  it.each([
    [{}, []],
    [{ source: 'kafka' }, ['source must be one of']],
    [{ source: 'memory' }, ['source=memory keeps messages in one sandbox']],
    [{ source: 'redis-list', redisUrlFrom: '' }, ['source=redis-list needs redisUrlFrom=']],
    [{ source: 'sqs', redisUrlFrom: '' }, []],
    [{ source: 'sqs' }, ['the Redis parameters apply to source=redis and redis-list only']],
    [{ source: 'sqs', redisUrlFrom: '', redisUrl: 'rediss://cache.example.com:6380' }, ['the Redis parameters apply to source=redis and redis-list only']],
    [{ redisUrl: 'rediss://cache.example.com:6380', redisUrlFrom: '' }, []],
    [{ redisUrl: 'rediss://cache.example.com:6380' }, ['redisUrl and redisUrlFrom are both set']],
    [{ redisUrl: 'rediss://app:hunter2@cache.example.com:6380', redisUrlFrom: '' }, ['redisUrl carries credentials']],
    [{ redisUrlFrom: 'vault:/x' }, ['redisUrlFrom must be ssm:']],
    // A Redis in cluster mode (ElastiCache Serverless) is reached by its nodes, TLS and credentials, never by a URL.
    [{ redisUrlFrom: '', redisClusterNodes: 'c.serverless.use1.cache.amazonaws.com:6379', redisTls: 'true' }, []],
    [{ redisUrlFrom: '', redisClusterNodes: '10.0.0.1:6379,10.0.0.2:6379', redisUsername: 'relay', redisPasswordFrom: 'ssm:/sse-relay/redis-password' }, []],
    [{ redisClusterNodes: '10.0.0.1:6379' }, ['redisUrlFrom and redisClusterNodes are both set']],
    [{ redisUrlFrom: '', redisClusterNodes: '10.0.0.1' }, ['redisClusterNodes must be host:port of cluster nodes separated by commas']],
    [{ redisUrlFrom: '', redisClusterNodes: 'a:6379,b:70000' }, ['redisClusterNodes must be host:port of cluster nodes separated by commas (e.g. my-cache-abc123.serverless.use1.cache.amazonaws.com:6379); not "b:70000"']],
    [{ redisUrlFrom: '', redisClusterNodes: 'a:6379', redisTls: 'maybe' }, ['redisTls must be true or false']],
    [{ redisUrlFrom: '', redisClusterNodes: 'a:6379', redisPasswordFrom: 'hunter2' }, ['redisPasswordFrom must be ssm:']],
    [{ redisUrlFrom: '', redisClusterNodes: 'a:6379', redisUsername: 'my user' }, ['redisUsername must be an ACL user name without spaces']],
    // REDIS_USERNAME / REDIS_TLS beside REDIS_URL stop the functions at init: refused at package instead.
    [{ redisUsername: 'relay' }, ['redisUsername go with redisClusterNodes only']],
    [{ redisTls: 'true' }, ['redisTls go with redisClusterNodes only']],
    [{ source: 'sqs', redisUrlFrom: '', redisClusterNodes: 'a:6379' }, ['redisClusterNodes: the Redis parameters apply to source=redis and redis-list only']],
    [{ jwtSecretFrom: '', jwksUrl: 'https://id.example.com/jwks.json' }, []],
    [{ jwtSecretFrom: '', jwksUrl: 'http://id.example.com/jwks.json' }, ['jwksUrl must be an https:// URL']],
    [{ authMode: 'none', jwtSecretFrom: '' }, []],
    [{ allowedOrigin: '*' }, ['allowedOrigin must be one exact origin']],
    [{ allowedOrigin: 'https://app.example.com/' }, ['allowedOrigin must be one exact origin']],
    [{ secretsKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' }, []],
    [{ secretsKmsKeyArn: 'alias/aws/ssm' }, ['secretsKmsKeyArn must be a KMS key ARN']],
    [{ alarmTopicArn: 'ops-alerts' }, ['alarmTopicArn must be an SNS topic ARN']],
    [{ ingestVpc: 'yes' }, ['ingestVpc must be none or enabled']],
    [{ publishVpc: 'enabled', subnetIds: 'subnet-0a1b2c3d,subnet-0123456789abcdef0', securityGroupIds: 'sg-0123abcd' }, []],
    [{ publishVpc: 'enabled', subnetIds: 'subnet-0a1b2c3d, subnet-0b1b2c3d', securityGroupIds: 'sg-0123abcd' }, ['subnetIds must be subnet-… ids separated by commas alone (no spaces); not " subnet-0b1b2c3d"']],
    [{ ingestVpc: 'enabled', subnetIds: 'subnet-0a1b2c3d', securityGroupIds: 'sg-01' }, ['securityGroupIds must be sg-… ids']],
    [{ ingestVpc: 'enabled', subnetIds: '', securityGroupIds: 'sg-0123abcd' }, ['ingestVpc=enabled needs subnetIds and securityGroupIds']],
    [{ streamConcurrency: '0' }, ['streamConcurrency must be a whole number from 1']],
    [{ ingestMaxConcurrency: '1' }, ['ingestMaxConcurrency must be a whole number from 2']],
    [{ flushPaddingBytes: '70000' }, ['flushPaddingBytes must be 0 (off) or a whole number from 2 to 65536']],
    // Number() reads these as 1000, 1024 and 16; the function reads FLUSH_PADDING_BYTES as digits only, so the stack
    // packaged and then answered 500 to every stream (ConfigError at init).
    [{ flushPaddingBytes: '1e3' }, ['flushPaddingBytes must be 0 (off) or a whole number from 2 to 65536']],
    [{ flushPaddingBytes: '0x400' }, ['flushPaddingBytes must be 0 (off) or a whole number from 2 to 65536']],
    [{ flushPaddingBytes: '16.0' }, ['flushPaddingBytes must be 0 (off) or a whole number from 2 to 65536']],
    [{ streamConcurrency: '1e2' }, ['streamConcurrency must be a whole number from 1']],
    [{ flushPaddingBytes: '' }, []],
    [{ flushPaddingBytes: '3072' }, []],
    // Not a URL the function can parse (AUTH_JWKS_URL): packaged, then 500 on every request.
    [{ jwtSecretFrom: '', jwksUrl: 'https://[' }, ['jwksUrl must be an https:// URL']],
    // LOG_LEVEL=verbose packaged, and then every function failed its start: 500 to every request of the stack.
    [{ logLevel: 'verbose' }, ['logLevel must be one of trace, debug, info, warn, error, fatal, silent; got "verbose"']],
    // Empty is LOG_LEVEL unset (info) for the functions, so the package step takes it too (test/lambda/package-checks.test.ts).
    [{ logLevel: '' }, []],
    [{ logLevel: 'INFO' }, ['logLevel must be one of']],
    [{ logLevel: 'silent' }, []],
    [{ source: 'sqs', redisUrlFrom: '', sqsTopics: 'jobs' }, []],
    [{ source: 'sqs', redisUrlFrom: '', sqsTopics: 'orders, user-42' }, ['source=sqs with sqsQueues=shared and 2 topics (orders, user-42) loses messages']],
    [{ source: 'sqs', redisUrlFrom: '', sqsQueues: 'per-topic' }, []],
    [{ source: 'sqs', redisUrlFrom: '', sqsQueues: 'per-topic', sqsTopics: 'orders, user-42,' }, []],
    [{ sqsQueues: 'per-topic' }, ['sqsQueues=per-topic and sqsTopics apply to source=sqs only']],
    [{ sqsTopics: 'jobs' }, ['sqsQueues=per-topic and sqsTopics apply to source=sqs only']],
    [{ sqsQueues: 'one-each' }, ['sqsQueues must be shared or per-topic']],
    [{ source: 'sqs', redisUrlFrom: '', sqsQueues: 'per-topic', sqsTopics: 'a.b' }, ['sqsTopics: "a.b" cannot name a queue']],
    [{ source: 'sqs', redisUrlFrom: '', sqsQueues: 'per-topic', sqsTopics: 'a,a' }, ['sqsTopics lists "a" twice']],
    [{ source: 'sqs', redisUrlFrom: '', sqsQueues: 'per-topic', sqsQueuePrefix: 'sse-relay-prod-' }, ['sqsQueuePrefix "sse-relay-prod-" also matches the dead-letter queue']],
    [{ source: 'sqs', redisUrlFrom: '', sqsQueues: 'per-topic', sqsQueuePrefix: 'events topic' }, ['sqsQueuePrefix must be 1 to 79 letters']],
    [{ source: 'sqs', redisUrlFrom: '', sqsQueues: 'per-topic', sqsQueuePrefix: 'p'.repeat(70), sqsTopics: 'a-long-topic' }, ['is longer than SQS\'s 80 characters']],
  ])('%j → %j', (change, expected) => {
    const found = problems({ ...valid, ...change });
    expect(found.length).toBe(expected.length);
    expected.forEach((start, i) => expect(found[i]).toContain(start));
  });

  it('grants a Secrets Manager secret given by ARN on the ARN the secret really has (a partial ARN lacks the 6-character suffix)', () => {
    const { secretStatements } = createRequire(import.meta.url)(join(REPO_ROOT, 'serverless', 'sse-relay-plugin.cjs')) as { secretStatements: (names: string[]) => Statement[] };
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sse-relay/prod/jwt';
    // GetSecretValue takes the partial ARN, but IAM matches the grant against the full one (…:secret:name-AbCdEf):
    // granted as written, every read was AccessDenied and every request a 500.
    expect(secretStatements([arn])).toEqual([{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [`${arn}-??????`] }]);
    expect(secretStatements([`${arn}-AbC123`])).toEqual([{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: [`${arn}-AbC123`] }]);
    const ssm = 'arn:aws:ssm:eu-west-1:123456789012:parameter/sse-relay/prod/jwt';
    expect(secretStatements([ssm])).toEqual([{ Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: [ssm] }]);
  });

  it('takes the log levels the functions take (the logger\'s own table)', () => {
    for (const level of Object.keys(LOG_LEVELS)) expect([level, problems({ ...valid, logLevel: level })]).toEqual([level, []]);
  });

  it('names the fix when it refuses a shared queue with several topics', () => {
    expect(problems({ ...valid, source: 'sqs', redisUrlFrom: '', sqsTopics: 'a,b' })[0]).toMatch(/Set sqsQueues=per-topic/);
  });

  it('gives a topic\'s queue the same logical id whatever the order of sqsTopics (a reordered list replaces no queue)', () => {
    const { topicQueueResources } = createRequire(import.meta.url)(join(REPO_ROOT, 'serverless', 'topic-queues.cjs')) as { topicQueueResources: (p: Record<string, unknown>) => Record<string, unknown> };
    const ids = (topics: string): string[] => Object.keys(topicQueueResources({ ...valid, source: 'sqs', sqsQueues: 'per-topic', sqsTopics: topics })).sort();
    expect(ids('a-b,a_b,c')).toEqual(ids('c,a_b,a-b'));
    expect(ids('a-b,a_b,c')).toHaveLength(3);
    expect(ids('a-b,a_b,c').every((id) => /^TopicQueue[A-Za-z0-9]+$/.test(id))).toBe(true);
  });
});
