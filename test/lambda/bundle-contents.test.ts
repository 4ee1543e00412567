import { describe, expect, it } from '@jest/globals';
import { bundledPackages } from '../support/lambda/bundle-functions.js';

// Everything is bundled (nothing is left to the runtime's own AWS SDK), so the bundle must stay lean: one SDK client.
describe('Lambda bundles (serverless.yml esbuild options)', () => {
  it.each(['stream', 'publish'])('%s pulls in @aws-sdk/client-sqs and no other AWS SDK client', async (name) => {
    const packages = await bundledPackages(name);
    const clients = [...packages].filter((p) => p.startsWith('@aws-sdk/client-'));
    expect(clients).toEqual(['@aws-sdk/client-sqs']);
    for (const unwanted of ['aws-sdk', 'aws-lambda-ric', 'jest', 'esbuild', 'typescript']) expect(packages.has(unwanted)).toBe(false);
  });
});
