import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { startRelay } from '../support/relay-server.js';
import { startLocalSqs, type LocalSqs } from './fauxqs.js';
import { HalfCloseClient } from './half-close-client.js';
import { waitFor } from '../support/wait-for.js';

const TOTAL = 2_000;
const SUBSCRIBERS = 5;
const VISIBILITY_S = 20;

let sqs: LocalSqs;
let relay: Awaited<ReturnType<typeof startRelay>>;
let queueUrl: string;

beforeAll(async () => {
  sqs = await startLocalSqs();
  queueUrl = sqs.createQueue('jobs');
  relay = await startRelay(sqs.env(queueUrl, { SQS_VISIBILITY_TIMEOUT_S: String(VISIBILITY_S), PUBLISH_RATE_PER_MINUTE: '0' }));
});

afterAll(async () => {
  await relay?.stop();
  await sqs?.stop();
});

/** Publishes TOTAL messages in batches of 10; every 7th carries `event: progress`. Returns MessageId per sequence number. */
async function publishAll(): Promise<Map<number, string>> {
  const ids = new Map<number, string>();
  for (let first = 0; first < TOTAL; first += 40) {
    await Promise.all([0, 10, 20, 30].map(async (offset) => {
      const entries = Array.from({ length: 10 }, (_, i) => {
        const seq = first + offset + i;
        const attributes = seq % 7 === 0 ? { event: { DataType: 'String', StringValue: 'progress' } } : undefined;
        return { Id: String(seq), MessageBody: JSON.stringify({ seq }), MessageAttributes: attributes };
      });
      const out = await sqs.client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      for (const ok of out.Successful ?? []) ids.set(Number(ok.Id), ok.MessageId as string);
    }));
  }
  return ids;
}

test(`${TOTAL} messages to ${SUBSCRIBERS} competing subscribers that come and go: each delivered at least once`, async () => {
  const started = Date.now();
  const firstSeen = new Map<number, { id: string; event: string }>();
  let received = 0;
  let sessions = 0;
  let stop = false;
  const onEvent = (e: { id?: string | undefined; event?: string | undefined; data: string }): void => {
    received += 1;
    const seq = (JSON.parse(e.data) as { seq: number }).seq;
    if (!firstSeen.has(seq)) firstSeen.set(seq, { id: e.id ?? '', event: e.event ?? 'message' });
  };
  const subscriber = async (): Promise<void> => {
    while (!stop) {
      const client = new HalfCloseClient(`${relay.url}/events?topic=jobs`, onEvent);
      sessions += 1;
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 500));
      await client.leave();
      expect(client.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 50));
    }
  };
  const subscribers = Array.from({ length: SUBSCRIBERS }, subscriber);
  const ids = await publishAll();
  const publishedMs = Date.now() - started;
  await waitFor(() => firstSeen.size >= TOTAL, () => `all ${TOTAL} messages seen (got ${firstSeen.size})`, { timeoutMs: 60_000, everyMs: 50 }).catch(() => undefined);
  stop = true;
  await Promise.all(subscribers);
  const elapsedMs = Date.now() - started;
  const lost = [...ids.keys()].filter((seq) => !firstSeen.has(seq));
  console.log(`SQS competing subscribers: published ${ids.size} in ${publishedMs} ms; delivered ${firstSeen.size} unique in ` +
    `${elapsedMs} ms over ${sessions} sessions; frames ${received}, duplicates ${received - firstSeen.size}, lost ${lost.length}`);
  expect(ids.size).toBe(TOTAL);
  if (lost.length > 0) {
    const state = sqs.server.inspectQueue('jobs')?.messages;
    console.log(`queue now: ready ${state?.ready.length}, in flight ${state?.inflight.length}, delayed ${state?.delayed.length}`);
    console.log(JSON.stringify(state?.inflight.slice(0, 3).map((f) => ({ left: f.visibilityDeadline - Date.now(), m: f.message }))));
  }
  expect(lost).toEqual([]);
  for (const [seq, seen] of firstSeen) {
    expect(seen.id).toBe(ids.get(seq));
    expect(seen.event).toBe(seq % 7 === 0 ? 'progress' : 'message');
  }
  // Messages a leaving subscriber held were released at once: nothing waited for its visibility timeout to expire.
  expect(elapsedMs).toBeLessThan(VISIBILITY_S * 1_000);
}, 90_000);
