/* global process, console, Buffer, setTimeout */
// Measures, on loopback, how much a client that reads nothing absorbs before the server stalls with QUEUE_ACK=auto:
// every message whose frame the socket accepted is acknowledged, so this is what a client that then vanishes can take
// with it. Usage: npm run build && node scripts/measure-ack-window.mjs   (needs /usr/bin/redis-server)
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

const SIZES = [1024, 8 * 1024, 60 * 1024];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(read, quietMs = 1_000) {
  let last = await read();
  let since = Date.now();
  for (;;) {
    await sleep(50);
    const now = await read();
    if (now !== last) [last, since] = [now, Date.now()];
    else if (Date.now() - since >= quietMs) return now;
  }
}

const redisPort = await freePort();
const dir = await mkdtemp(join(tmpdir(), 'ack-window-'));
const redisServer = spawn('/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--save', ''], { stdio: 'ignore' });
await sleep(300);
const redis = new Redis(`redis://127.0.0.1:${redisPort}`);
const port = await freePort();
const relay = spawn(process.execPath, ['dist/functions/server.js'], {
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', AUTH_MODE: 'none', SOURCE: 'redis-list', REDIS_URL: `redis://127.0.0.1:${redisPort}`, LOG_LEVEL: 'warn' },
  stdio: 'ignore',
});
await sleep(1_000);
console.log('| item data | messages acknowledged | bytes acknowledged |\n|---|---|---|');
for (const size of SIZES) {
  const topic = `window-${size}`;
  const items = Math.ceil((16 * 1_048_576) / size);
  const item = JSON.stringify({ data: 'x'.repeat(size) });
  for (let i = 0; i < items; i += 500) await redis.lpush(`sse:q:${topic}`, ...Array.from({ length: Math.min(500, items - i) }, () => item));
  const socket = connect({ port, host: '127.0.0.1' });
  socket.pause();
  socket.write(`GET /events?topic=${topic} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const left = await until(async () => (await redis.llen(`sse:q:${topic}`)));
  const acked = items - left - 1; // one more is in flight: taken, its write pending, not acknowledged
  const frameBytes = Buffer.byteLength(`id: 00000000-0000-0000-0000-000000000000\ndata: ${'x'.repeat(size)}\n\n`) + 8;
  console.log(`| ${size / 1024} KiB | ${acked} | ${(acked * frameBytes / 1_048_576).toFixed(1)} MiB |`);
  socket.resetAndDestroy();
  await redis.del(`sse:q:${topic}`);
}
relay.kill('SIGKILL');
redis.disconnect();
redisServer.kill('SIGKILL');
await rm(dir, { recursive: true, force: true });
