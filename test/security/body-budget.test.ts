import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { startRelay } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';

// Every body is bounded (MAX_BODY_BYTES) and has a deadline (REQUEST_TIMEOUT_MS), but without a bound over all of them
// a crowd of clients each stalling just short of a full body holds connections × MAX_BODY_BYTES until the deadline.
// MAX_BODY_BYTES_IN_FLIGHT bounds the sum: a body that would go past it is refused at once and takes nothing.
const BUDGET = 200_000;

let relay: Awaited<ReturnType<typeof startRelay>>;
const opened: Socket[] = [];

beforeAll(async () => {
  relay = await startRelay({ MAX_BODY_BYTES_IN_FLIGHT: String(BUDGET), MAX_BODY_BYTES: '131072', MAX_MESSAGE_BYTES: '131072', REQUEST_TIMEOUT_MS: '60000', PUBLISH_RATE_PER_MINUTE: '0' });
});

afterAll(async () => {
  for (const socket of opened) socket.destroy();
  await relay.stop();
});

/** A connection that sends a publish request's head and `sent` bytes of its body, then stalls; collects the answer. */
async function stalledPublish(head: string, body: Buffer): Promise<{ socket: Socket; answer: () => string }> {
  const socket = connect(relay.port, '127.0.0.1');
  opened.push(socket);
  let received = '';
  socket.on('data', (bytes: Buffer) => void (received += bytes.toString('latin1')));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(head);
  if (body.byteLength > 0) socket.write(body);
  return { socket, answer: () => received };
}

const withLength = (length: number): string => `POST /publish HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
const chunkedHead = 'POST /publish HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
const chunk = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from(`${bytes.byteLength.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
const filler = (size: number): Buffer => Buffer.alloc(size, 0x20);

/** POST /publish of a message whose body is about `size` bytes; its status. */
async function largePublish(size: number): Promise<number> {
  const response = await fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'budget', data: 'x'.repeat(size - 40) }) });
  await response.arrayBuffer();
  return response.status;
}

async function publishes(): Promise<number> {
  const response = await fetch(`${relay.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'budget', data: 'ok' }) });
  await response.arrayBuffer();
  return response.status;
}

describe('request bodies arriving at once (MAX_BODY_BYTES_IN_FLIGHT)', () => {
  it('refuses a declared body that does not fit what is left, 503 too_many_bodies with Retry-After, and takes it back', async () => {
    const first = await stalledPublish(withLength(100_000), filler(60_000));
    const second = await stalledPublish(withLength(100_000), filler(60_000));
    // What arrived is what counts: 120,000 held, so a small publish still fits…
    await waitFor(async () => (await largePublish(90_000)) === 503, 'the two stalled bodies held');
    expect(await publishes()).toBe(202);
    // …and a body declaring 100,000 does not, and is refused before it is sent.
    const third = await stalledPublish(withLength(100_000), Buffer.alloc(0));
    await waitFor(() => third.answer().includes('\r\n\r\n{'), 'the third request\'s answer');
    expect(third.answer()).toMatch(/^HTTP\/1\.1 503 /);
    expect(third.answer()).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(third.answer()).toContain('"error":"too_many_bodies"');
    expect(first.answer()).toBe('');
    expect(second.answer()).toBe('');
    first.socket.destroy();
    second.socket.destroy();
    await waitFor(async () => (await largePublish(90_000)) === 202, 'a large publish taken once the stalled bodies are gone');
  });

  it('counts chunked bodies as they arrive, and refuses the one that goes past the bound', async () => {
    const first = await stalledPublish(chunkedHead, chunk(filler(100_000)));
    const second = await stalledPublish(chunkedHead, chunk(filler(99_990)));
    // Both are held (199,990 of 200,000; a 30-byte publish no longer fits): wait until the server has read them.
    await waitFor(async () => (await publishes()) === 503, 'the two chunked bodies held');
    const third = await stalledPublish(chunkedHead, chunk(filler(5_000)));
    await waitFor(() => third.answer().includes('\r\n\r\n{'), 'the third request\'s answer');
    expect(third.answer()).toMatch(/^HTTP\/1\.1 503 /);
    expect(third.answer()).toContain('"error":"too_many_bodies"');
    first.socket.destroy();
    second.socket.destroy();
    await waitFor(async () => (await publishes()) === 202, 'a publish taken once the stalled bodies are gone');
  });

  it('holds the bound against a crowd: of 200 stalled bodies of 60,000 bytes only what fits is read', async () => {
    const crowd: Awaited<ReturnType<typeof stalledPublish>>[] = [];
    for (let i = 0; i < 200; i++) crowd.push(await stalledPublish(withLength(60_000), filler(59_000)));
    await waitFor(() => crowd.filter((c) => c.answer().includes('too_many_bodies')).length >= 197, 'the refusals of the crowd', 20_000);
    // 200,000 / 59,000: at most three bodies fit (fewer if refusals came while others held part of theirs); every
    // other one was answered at once and holds nothing.
    const waiting = crowd.filter((c) => c.answer() === '').length;
    expect(waiting).toBeGreaterThanOrEqual(1);
    expect(waiting).toBeLessThanOrEqual(3);
    for (const c of crowd) c.socket.destroy();
    await waitFor(async () => (await publishes()) === 202, 'a publish taken once the stalled bodies are gone');
  });

  it('still reads one body larger than the whole bound when nothing else is held', async () => {
    const own = await startRelay({ MAX_BODY_BYTES_IN_FLIGHT: '1024', MAX_BODY_BYTES: '131072' });
    try {
      const data = 'x'.repeat(60_000);
      const response = await fetch(`${own.url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ topic: 'big', data }) });
      expect(response.status).toBe(202);
    } finally {
      await own.stop();
    }
  });
});
