import { describe, expect, it } from '@jest/globals';
import { bundledPackages } from '../support/lambda/bundle-functions.js';

// Everything is bundled (nothing is left to the runtime's own AWS SDK), so the bundle must stay lean: the SQS client
// (source, publish) and the two clients that read secrets by name, and no other.
describe('Lambda bundles (serverless.yml esbuild options)', () => {
  it.each([
    ['stream', ['@aws-sdk/client-secrets-manager', '@aws-sdk/client-sqs', '@aws-sdk/client-ssm']],
    ['publish', ['@aws-sdk/client-secrets-manager', '@aws-sdk/client-sqs', '@aws-sdk/client-ssm']],
    ['ingest', ['@aws-sdk/client-secrets-manager', '@aws-sdk/client-ssm']],
  ])('%s pulls in %j and no other AWS SDK client', async (name, expected) => {
    const packages = await bundledPackages(name);
    const clients = [...packages].filter((p) => p.startsWith('@aws-sdk/client-')).sort();
    expect(clients).toEqual(expected);
    for (const unwanted of ['aws-sdk', 'aws-lambda-ric', 'jest', 'esbuild', 'typescript']) expect(packages.has(unwanted)).toBe(false);
  });
});
