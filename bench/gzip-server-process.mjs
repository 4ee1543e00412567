// The relay of the compression benchmarks (bench/gzip-memory-server.mjs) in a child process with --expose-gc, driven
// over IPC: it reports its port once listening, then answers `measure` (memory after GC) and `cpu`.
/* global URL, setTimeout */
import { fork } from 'node:child_process';

const SERVER = new URL('./gzip-memory-server.mjs', import.meta.url);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the server with `compression` ('off' | 'gzip') and `env` added to the shared settings. Resolves once it
 * listens: its port, `ask(message)` (the child's next reply) and `stop()`.
 */
export async function startGzipServer(compression, env = {}) {
  const child = fork(SERVER, [], {
    execArgv: ['--expose-gc'],
    env: {
      PORT: '0', HOST: '127.0.0.1', AUTH_MODE: 'none', MAX_CONNECTIONS: '20000', MAX_CONNECTIONS_PER_CLIENT: '20000',
      COMPRESSION: compression, LOG_LEVEL: 'warn',
      // A loaded host must not turn streams away as overload while they are being opened.
      OVERLOAD_LAG_MS: '0',
      ...env,
    },
  });
  const ask = (message) => new Promise((resolve) => {
    child.once('message', resolve);
    child.send(message);
  });
  try {
    const { port } = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`the compression bench server exited with ${code} before listening`)));
    });
    return { port, ask, stop: () => child.kill() };
  } catch (error) {
    child.kill();
    throw error;
  }
}
