// One process of the storm benchmark's clients: raw-socket subscribers that reconnect the way EventSource does — after
// the last `retry:` the server sent, with Last-Event-ID, as soon as a response ends or a connection fails; on a 503
// after its Retry-After. Each checks that the message numbers it receives run 1, 2, 3… with no gap and no duplicate.
// Driven by its parent over IPC: open / target / stats / exit.
/* global process, Buffer, setTimeout */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

const OPEN_CONCURRENCY = 32;
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
// Source addresses 127.0.0.2–127.0.0.9: eight times the ephemeral ports of one address towards one server port.
const SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);

let target = { host: '127.0.0.1', port: 0, path: '/' };
const clients = [];
const counts = { refused503: 0, hints: 0, errors: 0, connects: 0 };

/** A subscriber's state across reconnects. */
function subscriber(index) {
  return {
    index, lastId: '', retryMs: 3_000, lastN: 0, received: 0, duplicates: 0, gaps: 0, open: false,
    leftAt: undefined, awayMs: [], backAt: undefined, everOpened: false, opened: undefined,
  };
}

/** Parses one HTTP/1.1 response: head, then a chunked (or close-delimited) body of SSE lines. */
function responseReader(client, socket, onDone) {
  let head = '';
  let inBody = false;
  let chunked = false;
  let chunkLeft = -1; // -1: reading a size line
  let sizeLine = '';
  let skipCrlf = 0;
  let line = '';
  let refused = false;
  const onLine = (text) => {
    if (text.startsWith('data: ')) {
      const n = Number(/"n":(\d+)/.exec(text)?.[1] ?? NaN);
      client.received += 1;
      if (n <= client.lastN) client.duplicates += 1;
      else if (n !== client.lastN + 1) client.gaps += 1;
      client.lastN = Math.max(client.lastN, n);
    } else if (text.startsWith('id: ')) client.lastId = text.slice(4);
    else if (text.startsWith('retry: ')) {
      client.retryMs = Number(text.slice(7));
      if (!refused && !client.open) back(client);
    } else if (text.startsWith(': overloaded') || text.startsWith(': shutting_down')) {
      refused = true;
      counts.hints += 1;
    }
  };
  const body = (text) => {
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      const piece = line + text.slice(start, end);
      line = '';
      onLine(piece.endsWith('\r') ? piece.slice(0, -1) : piece);
      start = end + 1;
    }
    line += text.slice(start);
  };
  const dechunk = (text) => {
    let i = 0;
    while (i < text.length) {
      if (skipCrlf > 0) { skipCrlf -= 1; i += 1; continue; }
      if (chunkLeft < 0) {
        const end = text.indexOf('\n', i);
        if (end === -1) { sizeLine += text.slice(i); return; }
        sizeLine += text.slice(i, end);
        i = end + 1;
        chunkLeft = parseInt(sizeLine.trim(), 16);
        sizeLine = '';
        if (chunkLeft === 0) { onDone('end'); return; }
        continue;
      }
      const take = Math.min(chunkLeft, text.length - i);
      body(text.slice(i, i + take));
      i += take;
      chunkLeft -= take;
      if (chunkLeft === 0) { chunkLeft = -1; skipCrlf = 2; }
    }
  };
  return (length) => {
    let text = READ_BUFFER.latin1Slice(0, length);
    if (!inBody) {
      head += text;
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const status = Number(head.slice(9, 12));
      if (status !== 200) {
        const retryAfter = Number(/\r\nretry-after: *(\d+)/i.exec(head)?.[1] ?? 1);
        counts.refused503 += status === 503 ? 1 : 0;
        counts.errors += status === 503 ? 0 : 1;
        client.retryMs = retryAfter * 1_000;
        onDone('refused');
        return;
      }
      chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
      text = head.slice(end + 4);
      inBody = true;
    }
    if (chunked) dechunk(text);
    else body(text);
  };
}

function now() {
  return performance.now();
}

function back(client) {
  client.open = true;
  client.opened?.();
  client.opened = undefined;
  client.everOpened = true;
  if (client.leftAt !== undefined) {
    client.awayMs.push(now() - client.leftAt);
    client.backAt = now();
    client.leftAt = undefined;
  }
}

function openStream(client) {
  return new Promise((resolve) => {
    let settled = false;
    const done = (how) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (client.open) client.leftAt = now();
      client.open = false;
      if (how !== 'end' && how !== 'refused') counts.errors += 1;
      client.opened = undefined;
      resolve();
      // EventSource: reconnect after the retry delay (a 503's Retry-After here), with the last id.
      setTimeout(() => void openStream(client), client.retryMs);
    };
    counts.connects += 1;
    const socket = connect({
      host: target.host, port: target.port, localAddress: SOURCES[client.index % SOURCES.length],
      onread: { buffer: READ_BUFFER, callback: (length) => reader(length) },
    });
    const reader = responseReader(client, socket, done);
    socket.setNoDelay(true);
    socket.once('connect', () => {
      const resume = client.lastId === '' ? '' : `Last-Event-ID: ${client.lastId}\r\n`;
      socket.write(`GET ${target.path} HTTP/1.1\r\nHost: relay\r\nAccept: text/event-stream\r\n${resume}\r\n`);
      // The first open resolves once the stream is live; later ones are driven by the reconnect loop.
    });
    client.opened = resolve;
    socket.on('error', () => done('error'));
    socket.once('close', () => done('closed'));
  });
}

async function openMany(count, base) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const client = subscriber(base + next++);
      clients.push(client);
      await openStream(client);
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, worker));
}

function stats() {
  const away = clients.flatMap((c) => c.awayMs);
  return {
    clients: clients.length, open: clients.filter((c) => c.open).length, away, counts,
    lastN: clients.map((c) => c.lastN), clean: clients.map((c) => c.duplicates === 0 && c.gaps === 0),
    duplicates: clients.reduce((s, c) => s + c.duplicates, 0), gaps: clients.reduce((s, c) => s + c.gaps, 0),
    moved: clients.filter((c) => c.awayMs.length > 0).length,
    lastBackAt: Math.max(0, ...clients.map((c) => c.backAt ?? 0)) + performance.timeOrigin,
    stillAway: clients.filter((c) => !c.open).length,
  };
}

// The parent is gone (it was interrupted): nothing else would end this process.
process.on('disconnect', () => process.exit(0));

process.on('message', async (message) => {
  switch (message.cmd) {
    case 'open':
      target = message.target;
      await openMany(message.count, message.base);
      process.send({ id: message.id, open: clients.filter((c) => c.open).length });
      break;
    case 'target':
      target = message.target;
      process.send({ id: message.id });
      break;
    case 'stats':
      process.send({ id: message.id, ...stats() });
      break;
    default:
      process.exit(0);
  }
});
