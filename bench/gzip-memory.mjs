// Idle memory per stream without and with gzip, after a full GC: the server runs in its own process
// (gzip-memory-server.mjs, --expose-gc), this process holds the streams. Part of `npm run bench -- --compression`.
/* global Buffer */
import { connect } from 'node:net';
import { sleep, startGzipServer } from './gzip-server-process.mjs';

/** Opens `count` streams that ask for gzip; resolves once each has its position frame (or its first gzip bytes). */
async function openStreams(port, count, gzip) {
  const sockets = [];
  for (let started = 0; started < count; started += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - started) }, () => new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      let seen = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        seen = Buffer.concat([seen, chunk]);
        // Headers, then at least two chunks (retry, then the position frame).
        if ((seen.toString('latin1').match(/\r\n[0-9a-f]+\r\n/g) ?? []).length >= 2) resolve();
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`a stream closed before it was live: ${seen.toString('latin1').slice(0, 200)}`)));
      socket.write(`GET /events?topic=idle HTTP/1.1\r\nHost: x\r\n${gzip ? 'Accept-Encoding: gzip\r\n' : ''}\r\n`);
      sockets.push(socket);
    })));
  }
  return sockets;
}

/** Bytes per idle stream (after − before) ÷ streams, for the server with `compression` ('off' | 'gzip'). */
export async function idleMemoryPerStream(compression, streams) {
  const { port, ask, stop } = await startGzipServer(compression);
  try {
    await openStreams(port, 20, compression === 'gzip').then((warm) => warm.forEach((s) => s.destroy()));
    await sleep(500);
    const before = await ask({ cmd: 'measure' });
    const sockets = await openStreams(port, streams, compression === 'gzip');
    await sleep(1_000);
    const after = await ask({ cmd: 'measure' });
    sockets.forEach((s) => s.destroy());
    const per = (key) => Math.round((after[key] - before[key]) / after.streams);
    return { compression, streams: after.streams, rss: per('rss'), heapUsed: per('heapUsed'), external: per('external') };
  } finally {
    stop();
  }
}
