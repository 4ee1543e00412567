// What every load-generating process shares (load-client.mjs, gzip-load-client.mjs): raw TCP subscribers reading into one
// buffer, the tally of frames, bytes, cuts and latency, and the IPC protocol with the parent (bench/client-pool.mjs):
// connect / reset / stats / close / exit. A client brings only its reader: what a socket's bytes mean.
/* global process, Buffer, setTimeout, clearTimeout */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Histogram } from './histogram.mjs';

const CONNECT_CONCURRENCY = 64;
const CONNECT_TIMEOUT_MS = 15_000;
// Payloads start `{"t":<send time>`, so the time sits at a fixed offset after `data: `.
const T_OFFSET = 'data: {"t":'.length;

// Every socket reads into this one buffer (net's `onread`), so receiving costs no allocation per read. A reader must be
// done with the bytes before it returns: the next read reuses the buffer.
export const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/** What this process measured since the parent's last `reset`; readers add to it. */
export const tally = { histogram: new Histogram(), frames: 0, bytes: 0, cuts: 0, cpuBase: process.cpuUsage() };

function now() {
  return performance.timeOrigin + performance.now();
}

/** Counts and times the complete `data:` lines of SSE `text` (bench payloads are one line); returns its unfinished last line. */
export function scanEvents(text) {
  const end = text.lastIndexOf('\n');
  if (end === -1) return text;
  const at = now();
  for (let index = text.indexOf('data: '); index !== -1 && index < end; index = text.indexOf('data: ', index + T_OFFSET)) {
    if (index > 0 && text.charCodeAt(index - 1) !== 10) continue; // not at the start of a line
    tally.frames += 1;
    const sent = parseFloat(text.slice(index + T_OFFSET, index + T_OFFSET + 24));
    if (sent > 0) tally.histogram.record(Math.max(0, at - sent));
  }
  return text.slice(end + 1);
}

/**
 * Serves the parent's requests for this process. `reader(onHead, onEnd)` makes the read callback of one socket, given
 * the byte count of each read in READ_BUFFER: it calls `onHead(ok)` once the response head is in (ok: a 200), and may
 * call `onEnd()` at the end of the stream, which closes the socket (counted as a cut).
 */
export function serveLoad(reader) {
  const sockets = new Set();

  function open(options) {
    return new Promise((resolve) => {
      const onRead = reader((ok) => {
        if (ok) sockets.add(socket);
        done(ok);
      }, () => socket.destroy());
      const socket = connect({ host: options.host, port: options.port, onread: { buffer: READ_BUFFER, callback: onRead } });
      const timer = setTimeout(() => done(false), CONNECT_TIMEOUT_MS);
      let settled = false;
      const done = (ok) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!ok) socket.destroy();
        resolve(ok);
      };
      socket.setNoDelay(true);
      socket.once('connect', () => {
        const encoding = options.gzip ? 'Accept-Encoding: gzip\r\n' : '';
        socket.write(`GET ${options.path} HTTP/1.1\r\nHost: ${options.host}\r\nAccept: text/event-stream\r\n${encoding}\r\n`);
      });
      socket.on('error', () => done(false));
      socket.once('close', () => {
        if (sockets.delete(socket)) tally.cuts += 1;
        done(false);
      });
    });
  }

  async function openMany(options) {
    let connected = 0;
    let failed = 0;
    let left = options.count;
    const worker = async () => {
      while (left > 0) {
        left -= 1;
        if (await open(options)) connected += 1;
        else failed += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, options.count) }, worker));
    return { connected, failed, open: sockets.size };
  }

  process.on('message', async (message) => {
    switch (message.cmd) {
      case 'connect':
        process.send({ id: message.id, ...(await openMany(message)) });
        break;
      case 'reset':
        Object.assign(tally, { histogram: new Histogram(), frames: 0, bytes: 0, cuts: 0, cpuBase: process.cpuUsage() });
        process.send({ id: message.id });
        break;
      case 'stats': {
        const cpu = process.cpuUsage(tally.cpuBase);
        const { frames, bytes, cuts, histogram } = tally;
        process.send({ id: message.id, frames, bytes, cuts, cpuSeconds: (cpu.user + cpu.system) / 1e6, open: sockets.size, histogram: histogram.toJSON() });
        break;
      }
      case 'close':
        for (const socket of sockets) socket.destroy();
        sockets.clear();
        process.send({ id: message.id });
        break;
      default:
        process.exit(0);
    }
  });
}
