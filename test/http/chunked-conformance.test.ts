import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { nodeListener } from '../../lib/adapters/node.js';
import { handoffUnsupportedReason, socketHandoffEnabled } from '../../lib/adapters/http-socket-handoff.js';
import { header, StrictHttpError, StrictHttpReader } from '../support/strict-http.js';
import { publish, startRelay } from '../support/relay-server.js';
import { waitFor } from '../support/wait-for.js';

// Streams end by themselves after MAX_SESSION_MS (jittered down by up to 10 %) at the hub's next one-second tick.
const ENV = { MAX_SESSION_MS: '1000', HEARTBEAT_MS: '60000' };
const STREAM = (topic: string, extra = '') => `GET /events?topic=${topic} HTTP/1.1\r\nHost: relay\r\nAccept: text/event-stream\r\n${extra}\r\n`;
const HEALTH = 'GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n';

let relay: Awaited<ReturnType<typeof startRelay>>;
// The same app behind a second listener that never takes the socket over: what the relay does on an untested Node.
let viaResponse: Server;
let ports: Record<'handoff' | 'res.write', number>;
// The server side of every connection, by the client's port: shows whether node:http still parses it.
const serverSockets = new Map<number, Socket & { parser?: unknown }>();
const track = (socket: Socket) => void serverSockets.set(socket.remotePort ?? 0, socket);

beforeAll(async () => {
  relay = await startRelay(ENV);
  viaResponse = createServer(nodeListener(relay.app, { socketHandoff: false }));
  relay.server.on('connection', track);
  viaResponse.on('connection', track);
  await new Promise<void>((resolve) => viaResponse.listen(0, '127.0.0.1', resolve));
  const address = viaResponse.address();
  ports = { handoff: relay.port, 'res.write': typeof address === 'object' && address !== null ? address.port : 0 };
});

afterAll(async () => {
  viaResponse.closeAllConnections();
  viaResponse.close();
  await relay.stop();
});

function open(port: number): Promise<{ socket: Socket; reader: StrictHttpReader }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve({ socket, reader: new StrictHttpReader(socket) }));
    socket.once('error', reject);
  });
}

/** Reads one SSE response; publishes `data` to `topic` once the stream is live (its first chunk arrived). */
const streamedWithParser = new Map<number, boolean>();

async function readStream(reader: StrictHttpReader, topic: string, data: string[], port?: number) {
  let live = false;
  const response = reader.response('GET', () => {
    if (live) return;
    live = true;
    if (port !== undefined) streamedWithParser.set(port, Boolean(serverSockets.get(port)?.parser));
    void (async () => {
      for (const item of data) await publish(relay.url, { topic, data: item });
    })();
  });
  return response;
}

describe.each(['handoff', 'res.write'] as const)('HTTP/1.1 framing of a stream (%s)', (mode) => {
  it('frames every chunk, ends with the last chunk, and answers the next request on the same connection', async () => {
    const { socket, reader } = await open(ports[mode]);
    socket.write(STREAM(`conf-a-${mode}`));
    const stream = await readStream(reader, `conf-a-${mode}`, ['one', 'two'], socket.localPort);
    // While it streamed, the connection was node:http's (res.write) or the stream's own (no parser left on it); after
    // the stream it is node:http's again, with a parser for the next request.
    expect(streamedWithParser.get(socket.localPort ?? 0)).toBe(mode === 'res.write');
    expect(serverSockets.get(socket.localPort ?? 0)?.parser).toBeTruthy();
    expect(stream.status).toBe(200);
    expect(stream.framing).toBe('chunked');
    expect(header(stream.headers, 'content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.chunkSizes.every((size) => size > 0)).toBe(true);
    const text = stream.body.toString('utf8');
    expect(text).toMatch(/^retry: \d+\n\n/);
    expect(text).toContain('data: one\n\n');
    expect(text).toContain('data: two\n\n');
    expect(text).toMatch(/retry: \d+\n\n$/);
    expect(reader.pending).toBe(0);
    // Keep-alive: the connection is reused, first for an ordinary request, then for a second stream.
    socket.write(HEALTH);
    const health = await reader.response();
    expect(health.status).toBe(200);
    expect(health.framing).toBe('length');
    socket.write(STREAM(`conf-a-${mode}`));
    const again = await readStream(reader, `conf-a-${mode}`, ['three']);
    expect(again.body.toString('utf8')).toContain('data: three\n\n');
    expect(reader.closed).toBe(false);
    socket.destroy();
  });

  it('answers a request pipelined behind the stream, in order, after the stream', async () => {
    const { socket, reader } = await open(ports[mode]);
    socket.write(STREAM(`conf-b-${mode}`) + HEALTH);
    const stream = await readStream(reader, `conf-b-${mode}`, ['x']);
    expect(stream.body.toString('utf8')).toContain('data: x\n\n');
    const health = await reader.response();
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString('utf8'))).toEqual(expect.objectContaining({ status: 'ok' }));
    socket.destroy();
  });

  it('answers two streams pipelined on one connection one after the other, each in its own response', async () => {
    const { socket, reader } = await open(ports[mode]);
    socket.write(STREAM(`conf-h1-${mode}`) + STREAM(`conf-h2-${mode}`));
    const first = await readStream(reader, `conf-h1-${mode}`, ['one']);
    expect(first.body.toString('utf8')).toMatch(new RegExp(`^retry: \\d+\\n\\n[^]*data: one\\n\\n[^]*id: conf-h1-${mode}=\\d{13}-1\\n\\nretry: \\d+\\n\\n$`));
    expect(first.body.toString('utf8')).not.toContain('conf-h2');
    // Its session ran while it waited (its bytes held by node:http), so it may have ended by the time it is sent.
    const second = await reader.response();
    expect(second.status).toBe(200);
    expect(second.framing).toBe('chunked');
    expect(second.body.toString('utf8')).toMatch(new RegExp(`^retry: \\d+\\n\\n[^]*id: conf-h2-${mode}=\\d{13}-\\d+\\n\\n`));
    expect(second.body.toString('utf8')).not.toContain('conf-h1');
    socket.destroy();
  });

  it('answers a request the client sent while the stream was open, after the stream', async () => {
    const { socket, reader } = await open(ports[mode]);
    socket.write(STREAM(`conf-c-${mode}`));
    const head = await reader.head();
    socket.write(HEALTH);
    const { body } = await reader.body(head.framing, head.headers);
    expect(body.toString('utf8')).toMatch(/retry: \d+\n\n$/);
    const health = await reader.response();
    expect(health.status).toBe(200);
    socket.destroy();
  });

  it('closes the connection after the last chunk when the client asked for it', async () => {
    const { socket, reader } = await open(ports[mode]);
    socket.write(STREAM(`conf-d-${mode}`, 'Connection: close\r\n'));
    const stream = await reader.response();
    expect(stream.framing).toBe('chunked');
    expect(header(stream.headers, 'connection')).toBe('close');
    await reader.waitClosed();
    socket.destroy();
  });

  it('streams to an HTTP/1.0 client without chunked encoding and closes at the end', async () => {
    const { socket, reader } = await open(ports[mode]);
    socket.write(`GET /events?topic=conf-e-${mode} HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n`);
    const stream = await readStream(reader, `conf-e-${mode}`, ['old']);
    expect(stream.status).toBe(200);
    expect(stream.framing).toBe('close');
    expect(header(stream.headers, 'transfer-encoding')).toBeUndefined();
    expect(stream.body.toString('utf8')).toMatch(/^retry: \d+\n\n[^]*data: old\n\n[^]*retry: \d+\n\n$/);
    socket.destroy();
  });
});

describe('a stream that owns its socket', () => {
  it('cuts a client that sends more than a request’s worth of bytes while its stream is open', async () => {
    const { socket, reader } = await open(ports.handoff);
    socket.write(STREAM('conf-f'));
    await reader.head();
    socket.write(Buffer.alloc(100_000, 'a'));
    await waitFor(() => socket.destroyed || reader.closed, 'the relay to close the connection');
    socket.destroy();
  });

  it('ends the stream when the client leaves (the connection count comes back down)', async () => {
    const gauge = async () => Number(/^sse_connections_open (\d+)/m.exec(await (await fetch(`${relay.url}/metrics`)).text())?.[1] ?? NaN);
    const before = await gauge();
    const { socket, reader } = await open(ports.handoff);
    socket.write(STREAM('conf-g'));
    await reader.head();
    await waitFor(async () => (await gauge()) === before + 1, 'the stream to be counted');
    socket.end();
    await waitFor(async () => (await gauge()) === before, 'the stream to end once its client left');
    socket.destroy();
  });
});

describe('the strict reader rejects sloppy framing', () => {
  const read = async (bytes: string) => {
    const server = createServer();
    server.on('connection', (socket: Socket) => socket.end(bytes));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const { socket, reader } = await open(typeof address === 'object' && address !== null ? address.port : 0);
    try {
      return await reader.response();
    } finally {
      socket.destroy();
      server.close();
    }
  };
  const good = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';

  it.each([
    ['a bare LF', good.replace('OK\r\n', 'OK\n')],
    ['a chunk size with a space', good.replace('3\r\n', '3 \r\n')],
    ['a chunk extension', good.replace('3\r\n', '3;x=y\r\n')],
    ['chunk data longer than its size', good.replace('abc', 'abcd')],
    ['no last chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n'],
    ['Content-Length beside chunked', good.replace('\r\n\r\n3', '\r\nContent-Length: 3\r\n\r\n3')],
    ['obsolete line folding', good.replace('OK\r\n', 'OK\r\nX-A: 1\r\n  2\r\n')],
    ['an HTTP/1.0 status line', good.replace('HTTP/1.1', 'HTTP/1.0')],
  ])('%s', async (_what, bytes) => {
    await expect(read(bytes)).rejects.toThrow(StrictHttpError);
  });

  it('and reads well-framed bytes', async () => {
    expect((await read(good)).body.toString()).toBe('abc');
  });
});

describe('the Node version guard', () => {
  it('keeps the handoff to the Node majors it was tested on', () => {
    expect(handoffUnsupportedReason('20.19.0')).toBeUndefined();
    expect(handoffUnsupportedReason('22.12.0')).toBeUndefined();
    expect(handoffUnsupportedReason('24.0.0')).toMatch(/Node 24\.0\.0 is not one of the majors .*20, 22/);
  });

  it('says at startup that streams go through res.write on an untested major', () => {
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_: object, message: string) => void warnings.push(message) };
    expect(socketHandoffEnabled(logger, '26.1.0')).toBe(false);
    expect(warnings).toEqual([expect.stringMatching(/Node 26\.1\.0 .*streams go through res\.write/)]);
    expect(socketHandoffEnabled(logger, process.versions.node)).toBe(true);
    expect(warnings).toHaveLength(1);
  });
});
