// The relay in a process that can be asked for its memory after a full GC (bench/gzip.mjs, idle memory per stream).
// Run with --expose-gc; env as for dist/functions/server.js. IPC: {cmd:'measure'} → memoryUsage after gc(),
// {cmd:'cpu'} → CPU time used so far (µs).
/* global process */
import { loadConfig } from '../dist/lib/config/index.js';
import { silentLogger } from '../dist/lib/logger.js';
import { startServer } from '../dist/functions/server.js';

const running = await startServer(loadConfig(process.env), silentLogger);
process.on('message', (message) => {
  if (message.cmd === 'cpu') {
    const { user, system } = process.cpuUsage();
    return void process.send({ cpuMicros: user + system });
  }
  if (message.cmd !== 'measure') return void process.exit(0);
  // Twice: the first collection may leave weakly held entries (WeakMap caches) for the next one.
  globalThis.gc();
  globalThis.gc();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  process.send({ rss, heapUsed, external, arrayBuffers, streams: running.app.hub.connections.size });
});
process.send({ port: running.port });
