// The floor: the least a Node server can do to fan SSE out — a Set of responses and one res.write per connection per
// message, with the same bytes on the wire as sse-relay (id cursor, data line, headers). No buffers, no bounds.
/* global process, Buffer */
import { createServer } from 'node:http';

const HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' };
const streams = new Set();
let position = 0;

function publish(req, res) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const { topic, data } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    position += 1;
    const frame = Buffer.from(`id: ${topic}=${position}\ndata: ${data}\n\n`);
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
    res.write('retry: 2000\n\n');
    streams.add(res);
    res.once('close', () => streams.delete(res));
    return;
  }
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json; charset=utf-8' });
  res.end('{"status":"ok"}');
});
server.requestTimeout = 0;
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 8081), '127.0.0.1');
