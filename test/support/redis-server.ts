import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait-for.js';
import { spawnOwned } from './owned-daemon.js';

const REDIS_SERVER = '/usr/bin/redis-server';

/** A redis-server the test started and controls: real process, loopback port, AOF fsync on every write. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Sends `signal` to the server process (SIGKILL, SIGSTOP, SIGCONT …). */
  kill(signal: NodeJS.Signals): void;
  /** Starts the server again on the same port and data directory (after a kill), resolving once it answers PING. */
  restart(): Promise<void>;
  /** Stops the server (by its pid) and removes its data directory. */
  stop(): Promise<void>;
}

/** Reserves a free loopback port (the small window before redis-server binds it is acceptable in tests). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/**
 * Starts `/usr/bin/redis-server` on a free loopback port with `--appendonly yes --appendfsync always` in a fresh
 * temporary directory. With `{ started: false }` it only reserves the port and directory; call restart() to start it.
 * `extraArgs` go to redis-server after those (`--cluster-enabled yes` keeps its nodes.conf in that directory).
 */
export async function startRedis(options: { started?: boolean; extraArgs?: readonly string[] } = {}): Promise<TestRedis> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(`${REDIS_SERVER} is missing: install it with \`sudo apt-get install -y redis-server\``);
  }
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'sse-relay-redis-'));
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always',
      '--dir', dir, '--save', '', '--daemonize', 'no', '--loglevel', 'warning', ...(options.extraArgs ?? [])];
    const started = spawnOwned(REDIS_SERVER, args, { stdio: 'ignore' });
    child = started;
    await waitForPing(port, started);
  };
  const exited = (process: ChildProcess): Promise<void> =>
    process.exitCode !== null || process.signalCode !== null ? Promise.resolve() : new Promise((resolve) => process.once('exit', () => resolve()));
  if (options.started !== false) await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: (signal) => void (child?.pid !== undefined && process.kill(child.pid, signal)),
    restart: async () => {
      if (child !== undefined) await exited(child);
      await launch();
    },
    stop: async () => {
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, 'SIGCONT');
        process.kill(child.pid, 'SIGKILL');
        await exited(child);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once the Redis (or Sentinel) on `port` answers PING, over a raw socket, so helpers do not depend on the client library under test. */
export async function waitForPing(port: number, child: ChildProcess): Promise<void> {
  await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} while starting`);
    return new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(500, () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(false));
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => (socket.destroy(), resolve(data.toString().startsWith('+PONG'))));
    });
  }, `redis-server on port ${port} to answer PING`, { timeoutMs: 10_000, everyMs: 50 });
}
