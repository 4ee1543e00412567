import { expect, test } from '@jest/globals';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { publish, startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { startLocalSqs } from '../sqs/fauxqs.js';
import { startSqsProxy } from '../sqs/sqs-proxy.js';
import { useQueueBackends } from '../support/queue-backends.js';
import { waitFor } from '../support/wait-for.js';

// The smaller queue faults each get one clear answer, against the real Redis and the SQS emulator.
const backends = useQueueBackends();

test('redis-list: a queue key of the wrong type is a 503 source_unavailable, /readyz 503 and a counted fault, until it is fixed', async () => {
  const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: backends.redis.url });
  try {
    await backends.raw.set('sse:q:typo', 'a string, not a list');
    const stream = await fetch(`${relay.url}/events?topic=typo`);
    expect(stream.status).toBe(503);
    expect(stream.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await stream.json()).toMatchObject({ error: 'source_unavailable' });
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(503);
    expect(await (await fetch(`${relay.url}/metrics`)).text()).toMatch(/^sse_source_errors_total(\{[^}]*\})? [1-9]/m);
    await backends.raw.del('sse:q:typo');
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(200);

    // A key that turns into the wrong type while a stream reads it ends that stream; its reconnect gets the 503.
    const reader = new SseReader(`${relay.url}/events?topic=later`);
    await reader.until((r) => r.retries.length === 1);
    await backends.raw.set('sse:q:later', 'oops');
    await reader.ended;
    expect(reader.retries.length).toBe(2);
    expect((await fetch(`${relay.url}/events?topic=later`)).status).toBe(503);
    await backends.raw.del('sse:q:later');
  } finally {
    await relay.stop();
  }
}, 20_000);

test('sqs: a body SQS refuses is a 400 naming the problem, not a 503 to retry for ever', async () => {
  const queueUrl = backends.sqs.createQueue('refuses');
  const relay = await startRelay(backends.sqs.env(queueUrl, { PUBLISH_RATE_PER_MINUTE: '0' }));
  try {
    for (const data of ['', 'bell \u0001', 'non-character \uFFFE']) {
      expect(await publish(relay.url, { topic: 't', data })).toMatchObject({ status: 400, json: { error: 'unsupported_message' } });
    }
    // (Real SQS also stores U+10000 and above; the emulator refuses them, which then is the same 400.)
    expect((await publish(relay.url, { topic: 't', data: 'fine \t é ✓' })).status).toBe(202);
  } finally {
    await relay.stop();
  }
});

test('sqs: a queue deleted under open streams gives a consistent 503, not 200 and an immediate retry:', async () => {
  const queueUrl = backends.sqs.createQueue('vanishing');
  const relay = await startRelay(backends.sqs.env(queueUrl, { SQS_WAIT_SECONDS: '1' }));
  try {
    const reader = new SseReader(`${relay.url}/events?topic=t`);
    await reader.until((r) => r.status === 200);
    backends.sqs.server.deleteQueue('vanishing');
    await reader.ended;
    for (let i = 0; i < 3; i++) {
      const again = await fetch(`${relay.url}/events?topic=t`);
      expect(again.status).toBe(503);
      expect(await again.json()).toMatchObject({ error: 'source_unavailable' });
    }
  } finally {
    await relay.stop();
  }
}, 20_000);

test('sqs: an SQS that stops answering under open streams is a 503 for new streams soon, not 200 for the cached minute', async () => {
  // Its own emulator, stopped mid-test. The stream opened first leaves a fresh "the queue exists" check behind (cached
  // for 60 s); once the receive loop finds SQS gone, a new stream must be refused as publish and /readyz are.
  const own = await startLocalSqs();
  const queueUrl = own.createQueue('unreachable');
  const relay = await startRelay(own.env(queueUrl, { SQS_WAIT_SECONDS: '1', SHUTDOWN_DRAIN_MS: '200' }));
  const reader = new SseReader(`${relay.url}/events?topic=t`);
  try {
    await reader.until((r) => r.status === 200);
    await own.stop();
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(503);
    const refusal = await waitFor(async () => {
      const attempt = new AbortController();
      const answer = await fetch(`${relay.url}/events?topic=t`, { signal: attempt.signal });
      if (answer.status === 200) attempt.abort();
      return answer.status === 503 ? answer : undefined;
    }, 'a new stream to be refused while SQS does not answer', { timeoutMs: 15_000, everyMs: 500 });
    expect(refusal.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refusal.json()).toMatchObject({ error: 'source_unavailable' });
  } finally {
    reader.close();
    await relay.stop();
    await own.stop().catch(() => undefined);
  }
}, 25_000);

test('sqs: a queue whose receive is refused for good (IAM, KMS) is a consistent 503 and /readyz 503, not 200 and an immediate retry:', async () => {
  // GetQueueAttributes and SendMessage still answer, as with a policy or key that allows all but ReceiveMessage.
  for (const type of ['AccessDenied', 'KmsAccessDenied']) {
    const own = await startLocalSqs();
    const proxy = await startSqsProxy(own.endpoint);
    proxy.fault = (action) => (action === 'ReceiveMessage' ? { status: 400, type, message: `not allowed: ${type}` } : undefined);
    const queueUrl = own.createQueue('denied');
    const relay = await startRelay({ ...own.env(queueUrl, { SQS_WAIT_SECONDS: '1', SHUTDOWN_DRAIN_MS: '200' }), SQS_ENDPOINT: proxy.endpoint });
    try {
      // The first stream finds out: it ends with retry: as soon as its receive is refused.
      const first = await fetch(`${relay.url}/events?topic=t`, { signal: AbortSignal.timeout(10_000) });
      expect(first.status).toBe(200);
      await first.text();
      for (let i = 0; i < 3; i++) {
        const again = await fetch(`${relay.url}/events?topic=t`, { signal: AbortSignal.timeout(10_000) });
        expect([type, again.status]).toEqual([type, 503]);
        expect(again.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(await again.json()).toMatchObject({ error: 'source_unavailable' });
      }
      expect((await fetch(`${relay.url}/readyz`)).status).toBe(503);
      expect(proxy.calls.get('ReceiveMessage')).toBe(1);
    } finally {
      await relay.stop();
      await proxy.stop();
      await own.stop();
    }
  }
}, 30_000);

test('redis-list, QUEUE_ACK=client: an acknowledgement Redis does not answer is a 503 source_unavailable, not a 500', async () => {
  const relay = await startRelay({ SOURCE: 'redis-list', REDIS_URL: backends.redis.url, QUEUE_ACK: 'client', PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '0' });
  const reader = new SseReader(`${relay.url}/events?topic=stalled`);
  try {
    await backends.raw.lpush('sse:q:stalled', JSON.stringify({ data: 'held' }));
    await reader.until((r) => r.events.length === 1);
    backends.redis.kill('SIGSTOP');
    const answer = await fetch(`${relay.url}/ack`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'stalled', ids: reader.ids }),
    });
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await answer.json()).toMatchObject({ error: 'source_unavailable' });
  } finally {
    backends.redis.kill('SIGCONT');
    reader.close();
    await relay.stop();
  }
}, 20_000);

test('sqs, QUEUE_ACK=client: an acknowledgement SQS does not answer is a 503 source_unavailable, not a 200 for a message that comes back', async () => {
  // Its own emulator, stopped mid-test. The ack reaches a process that does not hold the message, as every ack does
  // on Lambda (the stream's sandbox is busy), so it is deleted through the source.
  const own = await startLocalSqs();
  const queueUrl = own.createQueue('unanswered');
  const env = own.env(queueUrl, { QUEUE_ACK: 'client', SQS_WAIT_SECONDS: '1', SHUTDOWN_DRAIN_MS: '0' });
  const [holder, other] = await Promise.all([startRelay(env), startRelay(env)]);
  const reader = new SseReader(`${holder.url}/events?topic=t`);
  const ack = (): Promise<Response> => fetch(`${other.url}/ack`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 't', ids: reader.ids }),
  });
  try {
    await own.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'held' }));
    await reader.until((r) => r.events.length === 1);
    await own.stop();
    const answer = await ack();
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await answer.json()).toMatchObject({ error: 'source_unavailable' });
  } finally {
    reader.close();
    await Promise.all([holder.stop(), other.stop(), own.stop().catch(() => undefined)]);
  }
}, 20_000);
