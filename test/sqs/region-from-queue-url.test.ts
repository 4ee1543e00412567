import { expect, test } from '@jest/globals';
import { startServerProcess } from '../support/server-process.js';
import { SseReader } from '../support/sse-reader.js';
import { startLocalSqs } from './fauxqs.js';

// The SDK takes its region from AWS_REGION or ~/.aws/config only (AWS_DEFAULT_REGION, the CLI's, is not read); without
// one every call failed with "Region is missing": a relay that started and answered 503 to everything. The queue URL
// names its region, and requests to the queue must be signed for it.
test('without AWS_REGION the relay signs for the region its queue URL names: publish and streams work', async () => {
  const sqs = await startLocalSqs();
  const queueUrl = sqs.createQueue('regional');
  expect(queueUrl).toMatch(/^http:\/\/sqs\.us-east-1\./);
  const relay = await startServerProcess({
    ...sqs.env(queueUrl, { SQS_WAIT_SECONDS: '1', SHUTDOWN_DRAIN_MS: '200' }),
    AWS_REGION: '', AWS_DEFAULT_REGION: '', AWS_CONFIG_FILE: '/nonexistent/aws-config', AWS_PROFILE: '',
  });
  const reader = new SseReader(`${relay.url}/events?topic=t`);
  try {
    const published = await fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"t","data":"found its region"}' });
    expect([published.status, relay.log().includes('Region is missing')]).toEqual([202, false]);
    await reader.until((r) => r.events.length === 1, 10_000);
    expect(reader.events.map((e) => e.data)).toEqual(['found its region']);
  } finally {
    reader.close();
    await relay.kill('SIGTERM');
    await sqs.stop();
  }
}, 20_000);
