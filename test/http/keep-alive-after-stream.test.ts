import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { StrictHttpReader } from '../support/strict-http.js';
import { startRelay } from '../support/relay-server.js';

// A connection whose stream ended goes back to node:http for keep-alive. Idle there, it must behave as every other idle
// keep-alive connection: closed quietly after the server's keep-alive timeout, never answered with a 408 for a request
// nobody sent (a load balancer that sends its next request just then would pass that 408 on as the answer to it).
// Streams end after MAX_SESSION_MS (at the hub's next one-second tick); REQUEST_TIMEOUT_MS is short so the old 408 came
// within the test, and the keep-alive timeout is set per test below.
const REQUEST_TIMEOUT_MS = 600;
const STREAM = (topic: string) => `GET /events?topic=${topic} HTTP/1.1\r\nHost: relay\r\nAccept: text/event-stream\r\n\r\n`;
const HEALTH = 'GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n';

let relay: Awaited<ReturnType<typeof startRelay>>;

beforeAll(async () => {
  relay = await startRelay({ MAX_SESSION_MS: '1000', HEARTBEAT_MS: '60000', REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
});

afterAll(async () => {
  await relay.stop();
});

function open(): Promise<{ socket: Socket; reader: StrictHttpReader }> {
  return new Promise((resolve, reject) => {
    const socket = connect(relay.port, '127.0.0.1', () => resolve({ socket, reader: new StrictHttpReader(socket) }));
    socket.once('error', reject);
  });
}

/** Opens a stream on a new connection and reads it to its end (MAX_SESSION_MS). */
async function afterOneStream(topic: string): Promise<{ socket: Socket; reader: StrictHttpReader }> {
  const connection = await open();
  connection.socket.write(STREAM(topic));
  const stream = await connection.reader.response('GET');
  expect(stream.status).toBe(200);
  expect(stream.body.toString('utf8')).toMatch(/retry: \d+\n\n$/);
  return connection;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a connection idle after its stream ended', () => {
  it('gets no unsolicited 408 once REQUEST_TIMEOUT_MS has passed, and still answers its next request', async () => {
    relay.server.keepAliveTimeout = 60_000;
    const { socket, reader } = await afterOneStream('ka-idle');
    // Node checks deadlines every REQUEST_TIMEOUT_MS / 4: three deadlines over, any 408 would have come.
    await sleep(REQUEST_TIMEOUT_MS * 3);
    expect(reader.pending).toBe(0);
    expect(reader.closed).toBe(false);
    socket.write(HEALTH);
    const health = await reader.response();
    expect(health.status).toBe(200);
    socket.destroy();
  });

  it('is closed quietly once the keep-alive timeout passes, as any idle keep-alive connection', async () => {
    relay.server.keepAliveTimeout = 300;
    const { socket, reader } = await afterOneStream('ka-close');
    // waitClosed rejects if any byte comes before the close; jest's timeout bounds the wait.
    await reader.waitClosed();
    socket.destroy();
  });

  it('still gives the next request on it REQUEST_TIMEOUT_MS to arrive whole (then 408)', async () => {
    relay.server.keepAliveTimeout = 60_000;
    const { socket, reader } = await afterOneStream('ka-slow');
    socket.write('GET /healthz HTTP/1.1\r\nHost: re');
    const answer = await reader.response();
    expect(answer.status).toBe(408);
    await reader.waitClosed();
    socket.destroy();
  });

  it('is closed by the server\'s shutdown like any other connection', async () => {
    const own = await startRelay({ MAX_SESSION_MS: '1000', HEARTBEAT_MS: '60000', SHUTDOWN_DRAIN_MS: '100' });
    own.server.keepAliveTimeout = 60_000;
    const socket = connect(own.port, '127.0.0.1');
    const reader = new StrictHttpReader(socket);
    socket.write(STREAM('ka-stop'));
    expect((await reader.response('GET')).status).toBe(200);
    await own.stop();
    await reader.waitClosed();
    socket.destroy();
  });
});
