// A load-generating process like load-client.mjs, for the compression benchmark (bench/gzip.mjs): it removes the HTTP
// chunk framing itself and, when the answer says `Content-Encoding: gzip`, inflates what arrives before counting
// `data:` lines. Used for both sides of the comparison (with and without gzip), so they pay the same client costs
// apart from inflating. Driven by its parent over IPC, as load-client.mjs.
/* global process, Buffer, setTimeout, clearTimeout */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { constants, inflateRawSync } from 'node:zlib';
import { Histogram } from './histogram.mjs';

const CONNECT_CONCURRENCY = 64;
const CONNECT_TIMEOUT_MS = 15_000;
const T_OFFSET = 'data: {"t":'.length;

let histogram = new Histogram();
let frames = 0;
let bytes = 0;
let cuts = 0;
let cpuBase = process.cpuUsage();
const sockets = new Set();
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const now = () => performance.timeOrigin + performance.now();

/** Counts the events in decoded SSE text, line by line (bench payloads are one line). */
function eventCounter() {
  let carry = '';
  return (decoded) => {
    const text = carry + decoded;
    const end = text.lastIndexOf('\n');
    const at = now();
    let index = text.indexOf('data: ');
    while (index !== -1 && index < end) {
      frames += 1;
      const sent = parseFloat(text.slice(index + T_OFFSET, index + T_OFFSET + 24));
      if (sent > 0) histogram.record(Math.max(0, at - sent));
      index = text.indexOf('data: ', index + T_OFFSET);
    }
    carry = text.slice(end + 1);
  };
}

/**
 * Removes chunked framing (`size CRLF data CRLF`) from a byte stream and hands the payload to `onPayload`: as it comes,
 * or each chunk's whole payload at once (`whole`). The relay sends every answer to these requests chunked.
 */
function dechunker(onPayload, whole) {
  let size = -1;
  let line = '';
  let parts = [];
  return (buffer) => {
    let at = 0;
    while (at < buffer.length) {
      if (size < 0) {
        const eol = buffer.indexOf(10, at);
        if (eol === -1) return void (line += buffer.latin1Slice(at, buffer.length));
        line += buffer.latin1Slice(at, eol);
        at = eol + 1;
        if (line.trim() === '') { line = ''; continue; } // the CRLF after a chunk's data
        size = parseInt(line, 16);
        line = '';
        continue;
      }
      const take = Math.min(size, buffer.length - at);
      const piece = buffer.subarray(at, at + take);
      at += take;
      size -= take;
      if (!whole) { if (take > 0) onPayload(piece); if (size === 0) size = -1; continue; }
      // Copied: the read buffer is reused by the next read.
      if (take > 0) parts.push(Buffer.from(piece));
      if (size === 0) {
        size = -1;
        const payload = parts.length === 1 ? parts[0] : Buffer.concat(parts);
        parts = [];
        if (payload.length > 0) onPayload(payload);
      }
    }
  };
}

/** The body handler of one socket once its head is read: inflating (gzip) or not, then counting. */
function bodyReader(gzip) {
  const count = eventCounter();
  if (!gzip) return dechunker((payload) => count(payload.latin1Slice(0, payload.length)), false);
  let first = true;
  return dechunker((payload) => {
    // The 10-byte gzip header opens the first chunk; the last chunk holds only the final block and the trailer.
    const segments = first ? payload.subarray(10) : payload;
    first = false;
    count(inflateChunk(segments));
  }, true);
}

// The relay writes every chunk as whole, independent deflate segments (lib/adapters/gzip-segments.ts), and its streams
// get the same chunks: so each chunk is inflated on its own, and the last result is reused when the next socket's chunk
// is the same bytes. That keeps this client's cost per frame near the plain client's, so its p99 measures the server;
// decoding as one stream, chunk boundaries anywhere, is what the tests check (Chromium, zlib's createGunzip).
let lastKey = '';
let lastText = '';
function inflateChunk(segments) {
  const key = segments.latin1Slice(0, segments.length);
  if (key !== lastKey) {
    lastKey = key;
    try {
      lastText = inflateRawSync(segments, { finishFlush: constants.Z_SYNC_FLUSH }).latin1Slice();
    } catch {
      lastText = ''; // the last chunk of a stream: the final block and the trailer, no events
    }
  }
  return lastText;
}

function open(options) {
  return new Promise((resolve) => {
    let head = '';
    let body;
    const onRead = (length) => {
      bytes += length;
      // Consumed before the next read reuses the buffer: the dechunker keeps strings, the inflate runs synchronously.
      const chunk = READ_BUFFER.subarray(0, length);
      if (body !== undefined) return body(chunk);
      head += chunk.latin1Slice(0, chunk.length);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const ok = head.startsWith('HTTP/1.1 200');
      body = bodyReader(/\r\ncontent-encoding: gzip\r\n/i.test(head.slice(0, end + 2)));
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      if (ok) sockets.add(socket);
      done(ok);
      if (rest.length > 0) body(rest);
    };
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
      if (sockets.delete(socket)) cuts += 1;
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
      histogram = new Histogram();
      frames = 0;
      bytes = 0;
      cpuBase = process.cpuUsage();
      process.send({ id: message.id });
      break;
    case 'stats': {
      const cpu = process.cpuUsage(cpuBase);
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
