// One process of idle subscribers for `npm run bench -- --idle` (bench/idle-streams.mjs): holds thousands of raw TCP
// streams, spread over loopback source addresses, and times what arrives on them: heartbeat comments (the gap since
// the stream's previous heartbeat, beyond HEARTBEAT_MS, is its lateness) and broadcast events (publish → receive).
// Driven by its parent over IPC: connect / reset / stats / close / exit.
/* global process, Buffer, setTimeout, clearTimeout */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Histogram } from './histogram.mjs';

const CONNECT_CONCURRENCY = 32;
const CONNECT_TIMEOUT_MS = 30_000;
const T_OFFSET = 'data: {"t":'.length;
const HEARTBEAT = ': heartbeat';

let heartbeatMs = 0;
let lateness = new Histogram();
let broadcast = new Histogram();
let heartbeats = 0;
let events = 0;
let cuts = 0;
const sockets = new Set();
// Every socket reads into this one buffer (net's `onread`): no allocation per read for 5,000 sockets.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function now() {
  return performance.timeOrigin + performance.now();
}

/** Per-socket state kept small: the carry of a partial line and the time of the last heartbeat. */
function scanner(onHead) {
  let carry = '';
  let head = true;
  let lastHeartbeat = 0;
  return (length) => {
    const text = carry + READ_BUFFER.latin1Slice(0, length);
    if (head) {
      const at = text.indexOf('\r\n\r\n');
      if (at === -1) return void (carry = text);
      head = false;
      onHead(text.startsWith('HTTP/1.1 200'));
    }
    const at = now();
    const end = text.lastIndexOf('\n');
    for (let index = text.indexOf(HEARTBEAT); index !== -1 && index < end; index = text.indexOf(HEARTBEAT, index + 1)) {
      heartbeats += 1;
      if (lastHeartbeat > 0) lateness.record(Math.max(0, at - lastHeartbeat - heartbeatMs));
      lastHeartbeat = at;
    }
    for (let index = text.indexOf('data: {"t":'); index !== -1 && index < end; index = text.indexOf('data: {"t":', index + 1)) {
      events += 1;
      broadcast.record(Math.max(0, at - parseFloat(text.slice(index + T_OFFSET, index + T_OFFSET + 24))));
    }
    // Only the unfinished last line is carried; chunk-size lines in between are harmless to the scan.
    carry = end === -1 ? text : text.slice(end + 1);
  };
}

function open(options, localAddress) {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ok) sockets.add(socket);
      else socket.destroy();
      resolve(ok);
    };
    const socket = connect({ host: options.host, port: options.port, localAddress, onread: { buffer: READ_BUFFER, callback: scanner(done) } });
    const timer = setTimeout(() => done(false), CONNECT_TIMEOUT_MS);
    socket.once('connect', () => socket.write(`GET ${options.path} HTTP/1.1\r\nHost: relay\r\nAccept: text/event-stream\r\n\r\n`));
    socket.on('error', () => done(false));
    socket.once('close', () => {
      if (sockets.delete(socket)) cuts += 1;
      done(false);
    });
  });
}

async function openMany(options) {
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < options.count) {
      const localAddress = options.addresses[next % options.addresses.length];
      next += 1;
      if (!(await open(options, localAddress))) failed += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, options.count) }, worker));
  return { open: sockets.size, failed };
}

process.on('message', async (message) => {
  const reply = (body) => process.send({ id: message.id, ...body });
  switch (message.cmd) {
    case 'connect':
      heartbeatMs = message.heartbeatMs;
      return reply(await openMany(message));
    case 'reset':
      lateness = new Histogram();
      broadcast = new Histogram();
      heartbeats = 0;
      events = 0;
      return reply({});
    case 'stats':
      return reply({ open: sockets.size, cuts, heartbeats, events, lateness: lateness.toJSON(), broadcast: broadcast.toJSON() });
    case 'close':
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      return reply({});
    default:
      process.exit(0);
  }
});
