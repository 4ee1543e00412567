import { afterEach, describe, expect, it } from '@jest/globals';
import { epochOf, publish, startRelay } from '../support/relay-server.js';

// sse_bytes_written_total must count every byte of SSE a stream was sent, not only what the hub's write pass wrote:
// a replay larger than one coalesced write and the last frames of a stream the server ends are written outside it.

type Relay = Awaited<ReturnType<typeof startRelay>>;
const relays: Relay[] = [];
afterEach(async () => {
  for (const relay of relays.splice(0)) await relay.stop();
});

async function bytesWrittenMetric(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('sse_bytes_written_total '));
  return Number(line?.split(' ')[1]);
}

/** Reads a stream's body until `done` holds for what arrived (or the stream ends); returns its bytes. */
async function readUntil(url: string, done: (text: string) => boolean): Promise<number> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let [text, bytes] = ['', 0];
  for (;;) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    bytes += value.byteLength;
    text += decoder.decode(value, { stream: true });
    if (done(text)) break;
  }
  controller.abort();
  return bytes;
}

describe('sse_bytes_written_total', () => {
  it('counts a replay larger than one coalesced write, byte for byte', async () => {
    // A heartbeat an hour away: nothing but the replay and its position frame reaches the client during the test.
    const relay = await startRelay({ HEARTBEAT_MS: '3600000', SHUTDOWN_DRAIN_MS: '200', PUBLISH_RATE_PER_MINUTE: '0' });
    relays.push(relay);
    const answers = [];
    for (let i = 1; i <= 100; i++) answers.push(await publish(relay.url, { topic: 'm', data: 'd'.repeat(1_000) }));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 202));
    const epoch = epochOf(answers[0]?.json['id']);
    // 100 events of about 1 KiB: more than the 64 KiB a connection coalesces before it writes on its own.
    const received = await readUntil(`${relay.url}/events?topic=m&lastEventId=m=0`, (text) => text.includes(`id: m=${epoch}-100\n\n`));
    expect(received).toBeGreaterThan(100_000);
    expect(await bytesWrittenMetric(relay.url)).toBe(received);
  });

  it('counts the position and retry: a stream the server ends is sent last', async () => {
    const relay = await startRelay({ HEARTBEAT_MS: '3600000', MAX_SESSION_MS: '1000', SHUTDOWN_DRAIN_MS: '200' });
    relays.push(relay);
    // The stream ends by itself (its session is up): retry:, position, then the final position and retry:.
    const received = await readUntil(`${relay.url}/events?topic=quiet`, () => false);
    expect(received).toBeGreaterThan(0);
    expect(await bytesWrittenMetric(relay.url)).toBe(received);
  });
});
