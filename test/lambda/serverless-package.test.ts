import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/lambda/bundle-functions.js';
import { CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS, CORS_MAX_AGE_SECONDS } from '../../lib/cors.js';

// `serverless package` (osls, the dev dependency) runs offline in a copy of the service, so parallel suites and the
// working tree never see its .serverless/ and .esbuild/ folders. Dummy credentials: packaging never calls AWS.
const run = promisify(execFile);
let workDir: string;
let output = '';
let template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

type Statement = { Effect: string; Action: string[]; Resource: unknown[] };

beforeAll(async () => {
  if (!existsSync(join(REPO_ROOT, 'functions', 'ingest.ts'))) {
    throw new Error('functions/ingest.ts (the SQS → Redis bridge) is missing; serverless.yml packages it');
  }
  workDir = await mkdtemp(join(tmpdir(), 'sse-relay-sls-'));
  for (const entry of ['serverless.yml', 'package.json', 'tsconfig.json', 'lib', 'functions']) {
    await cp(join(REPO_ROOT, entry), join(workDir, entry), { recursive: true });
  }
  await symlink(join(REPO_ROOT, 'node_modules'), join(workDir, 'node_modules'));
  const env = {
    PATH: process.env['PATH'] ?? '', HOME: workDir, AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'dummy',
    AWS_REGION: 'eu-west-1', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', SLS_DEPRECATION_DISABLE: '*',
  };
  const cli = join(REPO_ROOT, 'node_modules', '.bin', 'serverless');
  const result = await run(cli, ['package', '--stage', 'test', '--region', 'eu-west-1', '--package', join(workDir, 'out')], { cwd: workDir, env, timeout: 90_000 });
  output = `${result.stdout}\n${result.stderr}`;
  template = JSON.parse(await readFile(join(workDir, 'out', 'cloudformation-template-update-stack.json'), 'utf8')) as typeof template;
}, 120_000);

afterAll(async () => {
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

function resource(name: string): Record<string, unknown> {
  const found = template.Resources[name];
  if (found === undefined) throw new Error(`no ${name} in the template; it has ${Object.keys(template.Resources).join(', ')}`);
  return found.Properties;
}

describe('serverless.yml → CloudFormation (serverless package, offline)', () => {
  it('validates, apart from the v4-only `build` key that osls does not know', () => {
    const problems = output.split('\n').map((line) => line.trim()).filter((line) => line.startsWith('at '));
    expect(problems).toEqual(["at root: unrecognized property 'build'"]);
  });

  it('runs every function on nodejs22.x, arm64, from the esbuild .mjs bundle', () => {
    for (const name of ['Stream', 'Publish', 'Ingest']) {
      const fn = resource(`${name}LambdaFunction`);
      expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: `functions/${name.toLowerCase()}.handler` });
    }
    expect(existsSync(join(workDir, 'out', 'stream.zip'))).toBe(true);
  });

  it('gives stream a RESPONSE_STREAM function URL with CORS and a 900 s timeout, publish a buffered one', () => {
    expect(resource('StreamLambdaFunction')['Timeout']).toBe(900);
    expect(resource('StreamLambdaFunctionUrl')).toMatchObject({ InvokeMode: 'RESPONSE_STREAM', AuthType: 'NONE' });
    expect(resource('PublishLambdaFunctionUrl')['InvokeMode'] ?? 'BUFFERED').toBe('BUFFERED');
  });

  it('gives both function URLs the container CORS policy: one exact origin, credentials, never *', () => {
    for (const [url, methods] of [['StreamLambdaFunctionUrl', ['GET', 'POST']], ['PublishLambdaFunctionUrl', ['POST']]] as const) {
      const cors = resource(url)['Cors'] as Record<string, unknown>;
      expect(cors).toEqual({
        AllowOrigins: ['http://localhost:8080'],
        AllowCredentials: true,
        AllowHeaders: [...CORS_ALLOWED_HEADERS],
        ExposeHeaders: [...CORS_EXPOSED_HEADERS],
        AllowMethods: [...methods],
        MaxAge: CORS_MAX_AGE_SECONDS,
      });
    }
  });

  it('maps the ingest queue to the bridge with ReportBatchItemFailures, and redrives to a dead-letter queue', () => {
    const mapping = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(mapping?.Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': ['IngestQueue', 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    });
    expect(resource('IngestQueue')['RedrivePolicy']).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': ['IngestDeadLetterQueue', 'Arn'] }, maxReceiveCount: 5,
    });
  });

  it('grants SQS actions on the ingest queue only, and no action on a "*" resource', () => {
    const role = resource('IamRoleLambdaExecution') as { Policies: { PolicyDocument: { Statement: Statement[] } }[] };
    const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement);
    for (const statement of statements) {
      expect(statement.Resource).not.toContain('*');
      expect(JSON.stringify(statement.Resource)).not.toContain('"*"');
      for (const action of statement.Action) expect(action).not.toMatch(/\*/);
    }
    const sqs = statements.filter((s) => s.Action.some((a) => a.startsWith('sqs:')));
    expect(sqs.length).toBeGreaterThan(0);
    for (const statement of sqs) expect(statement.Resource).toEqual([{ 'Fn::GetAtt': ['IngestQueue', 'Arn'] }]);
    // What the framework adds for logs is scoped to this service's log groups.
    const logs = statements.filter((s) => s.Action.some((a) => a.startsWith('logs:')));
    for (const statement of logs) expect(JSON.stringify(statement.Resource)).toContain('log-group:/aws/lambda/sse-relay-test');
  });

  it('passes SOURCE and REDIS_URL from params, and stays out of a VPC unless asked', () => {
    const variables = (resource('StreamLambdaFunction')['Environment'] as { Variables: Record<string, string> }).Variables;
    expect(variables).toMatchObject({ SOURCE: 'redis', REDIS_URL: '' });
    expect(resource('StreamLambdaFunction')['VpcConfig']).toBeUndefined();
  });
});
