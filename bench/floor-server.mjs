// The floor: the least a Node server can do to fan SSE out — a Set of responses and one res.write per connection per
// message, with the same bytes on the wire as sse-relay (id cursor, data line, headers). No buffers, no bounds.
// FLOOR_WRITER=socket (the idle bench's `socket-floor`): the HTTP chunk is framed once per message and written straight
// to each socket, one write per connection, as node:http never does: what one thread can do at all, the kernel's share
// included.
/* global process, Buffer */
import { createServer } from 'node:http';

const HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' };
const streams = new Set();
const SOCKET_WRITER = process.env.FLOOR_WRITER === 'socket';
let position = 0;

const chunked = (text) => Buffer.from(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);

function publish(req, res) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const { topic, data } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    position += 1;
    const text = `id: ${topic}=${position}\ndata: ${data}\n\n`;
    const frame = SOCKET_WRITER ? chunked(text) : Buffer.from(text);
    for (const stream of streams) stream.write(frame);
    res.writeHead(202, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ id: String(position) }));
  });
}

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') return publish(req, res);
  if (req.method === 'GET' && req.url.startsWith('/events')) {
    res.writeHead(200, HEADERS);
    res.flushHeaders();
    req.socket.setNoDelay(true);
    // node:http has sent the head with chunked encoding; the socket writer frames its own chunks from here on.
    const stream = SOCKET_WRITER ? req.socket : res;
    stream.write(SOCKET_WRITER ? chunked('retry: 2000\n\n') : 'retry: 2000\n\n');
    streams.add(stream);
    res.once('close', () => streams.delete(stream));
    return;
  }
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json; charset=utf-8' });
  res.end('{"status":"ok"}');
});
server.requestTimeout = 0;
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 8081), '127.0.0.1');
