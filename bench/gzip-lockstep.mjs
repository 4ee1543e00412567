// Server CPU per delivered frame at equal batching, without and with gzip (part of `npm run bench -- --compression`).
// Open-loop phases let a busier server coalesce more frames per write, which moves CPU per frame by more than what is
// being compared on a loaded host. Here each message is published only once every stream has the previous one, so
// every write carries exactly one frame in both modes and the difference is the cost of compression itself.
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { sleep, startGzipServer } from './gzip-server-process.mjs';

/** Counts complete HTTP chunks on a socket (after the head), whatever their bytes. */
function chunkCounter() {
  const state = { chunks: 0, head: true, size: -1, line: '' };
  state.feed = (buffer) => {
    let at = 0;
    if (state.head) {
      const text = buffer.latin1Slice(0, buffer.length);
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      state.head = false;
      at = end + 4;
    }
    while (at < buffer.length) {
      if (state.size < 0) {
        const eol = buffer.indexOf(10, at);
        if (eol === -1) return void (state.line += buffer.latin1Slice(at, buffer.length));
        state.line += buffer.latin1Slice(at, eol);
        at = eol + 1;
        if (state.line.trim() !== '') state.size = parseInt(state.line, 16);
        state.line = '';
        continue;
      }
      const take = Math.min(state.size, buffer.length - at);
      at += take;
      state.size -= take;
      if (state.size === 0) [state.size, state.chunks] = [-1, state.chunks + 1];
    }
  };
  return state;
}

function openStream(port, gzip) {
  return new Promise((resolve, reject) => {
    const counter = chunkCounter();
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('data', (chunk) => {
      counter.feed(chunk);
      if (counter.chunks >= 2) resolve({ socket, counter }); // retry, then the position frame: live
    });
    socket.on('error', reject);
    socket.write(`GET /events?topic=lockstep HTTP/1.1\r\nHost: x\r\n${gzip ? 'Accept-Encoding: gzip\r\n' : ''}\r\n`);
  });
}

function publish(agent, port, seq) {
  const body = JSON.stringify({ topic: 'lockstep', data: `{"t":${Date.now()}.000,"s":${seq},"p":"${'x'.repeat(24)}"}` });
  return new Promise((resolve, reject) => {
    const req = request({ agent, port, host: '127.0.0.1', method: 'POST', path: '/publish', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Server CPU (ns) per delivered frame with `streams` streams and `messages` messages published in lockstep. */
export async function lockstepCpuPerFrame(compression, streams, messages) {
  const { port, ask, stop } = await startGzipServer(compression, { PUBLISH_RATE_PER_MINUTE: '0', HEARTBEAT_MS: '3600000' });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const open = [];
    for (let i = 0; i < streams; i += 100) open.push(...await Promise.all(Array.from({ length: Math.min(100, streams - i) }, () => openStream(port, compression === 'gzip'))));
    await publish(agent, port, -1); // warm the publish path and the first segment
    const base = open.map((s) => s.counter.chunks);
    const before = (await ask({ cmd: 'cpu' })).cpuMicros;
    for (let seq = 0; seq < messages; seq++) {
      await publish(agent, port, seq);
      while (!open.every((s, i) => s.counter.chunks >= base[i] + seq + 1)) await sleep(1);
    }
    const after = (await ask({ cmd: 'cpu' })).cpuMicros;
    open.forEach((s) => s.socket.destroy());
    return { compression, streams, messages, nsPerFrame: Math.round(((after - before) * 1000) / (streams * messages)) };
  } finally {
    agent.destroy();
    stop();
  }
}
