// One load-generating process: holds many raw TCP subscribers, de-chunks their responses itself and scans the SSE lines
// (no HTTP client, no EventSource), so the generator costs far less per frame than the server under test.
// Driven by its parent over IPC: connect / reset / stats / exit.
/* global process, Buffer, setTimeout, clearTimeout */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Histogram } from './histogram.mjs';
import { responseDecoder } from './response-decoder.mjs';

const CONNECT_CONCURRENCY = 64;
const CONNECT_TIMEOUT_MS = 15_000;
// Payloads start `{"t":<send time>`, so the time sits at a fixed offset after `data: `.
const T_OFFSET = 'data: {"t":'.length;

let histogram = new Histogram();
let frames = 0;
let bytes = 0;
let cuts = 0;
let cpuBase = process.cpuUsage();
const sockets = new Set();

function now() {
  return performance.timeOrigin + performance.now();
}

// Every socket reads into this one buffer (net's `onread`), so receiving costs no allocation per read.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/**
 * A reader for one socket's bytes: the response decoded by `responseDecoder` (head, chunked body), then SSE lines,
 * every `data:` line being one event (bench payloads are one line).
 */
function reader(onHead, onEnd) {
  const decode = responseDecoder(onHead, onEnd);
  let carry = ''; // the body's unfinished last line
  return (length) => {
    bytes += length;
    carry = scanEvents(carry + decode(READ_BUFFER.latin1Slice(0, length)));
  };
}

/** Counts and times the complete `data:` lines of `text`; returns its unfinished last line. */
function scanEvents(text) {
  const end = text.lastIndexOf('\n');
  if (end === -1) return text;
  const at = now();
  for (let index = text.indexOf('data: '); index !== -1 && index < end; index = text.indexOf('data: ', index + T_OFFSET)) {
    if (index > 0 && text.charCodeAt(index - 1) !== 10) continue; // not at the start of a line
    frames += 1;
    const sent = parseFloat(text.slice(index + T_OFFSET, index + T_OFFSET + 24));
    if (sent > 0) histogram.record(Math.max(0, at - sent));
  }
  return text.slice(end + 1);
}

function open(options) {
  return new Promise((resolve) => {
    // The last chunk ends the stream: close it, which counts as a cut below.
    const scan = reader((ok) => {
      if (ok) sockets.add(socket);
      done(ok);
    }, () => socket.destroy());
    const socket = connect({ host: options.host, port: options.port, onread: { buffer: READ_BUFFER, callback: scan } });
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
      cuts = 0;
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
