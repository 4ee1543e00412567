import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisCli } from './redis-cli.js';
import { ORCHESTRATION, waitFor } from './wait-for.js';
import { freePort, waitForPing } from './redis-server.js';
import { spawnOwned } from './owned-daemon.js';

const SERVER = '/usr/bin/redis-server';
const SENTINEL = '/usr/bin/redis-sentinel';

/** A primary, a replica and three sentinels on loopback, started by the test (`mymaster`, quorum 2, down after 1 s). */
export interface TestSentinelGroup {
  readonly name: string;
  /** `127.0.0.1:port,…` of the three sentinels (REDIS_SENTINELS). */
  readonly sentinels: string;
  /** Ports of the two data servers; [0] starts as the primary. */
  readonly serverPorts: readonly number[];
  /** The port the sentinels currently name as primary. */
  primaryPort(): Promise<number>;
  /** SIGKILLs the server on `port`. */
  kill(port: number): void;
  /**
   * Starts the server on `port` again as a replica of `primary`, as Sentinel charts do with a returning pod (it asks
   * the sentinels for the primary first); the sentinels would convert it too, but only after ~10 s.
   */
  restart(port: number, primary: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startSentinelGroup(): Promise<TestSentinelGroup> {
  for (const binary of [SERVER, SENTINEL]) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: install it with \`sudo apt-get install -y redis-server redis-sentinel\``);
  }
  const dir = await mkdtemp(join(tmpdir(), 'sse-relay-sentinel-'));
  const children = new Map<number, ChildProcess>();
  const serverPorts = [await freePort(), await freePort()];
  const primary = serverPorts[0] as number;
  const launchServer = async (port: number, replicaOf?: number): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir,
      '--appendfilename', `aof-${port}.aof`, '--appenddirname', `aof-${port}`, '--dbfilename', `dump-${port}.rdb`, '--save', '',
      '--daemonize', 'no', '--loglevel', 'warning',
      // Redis 7 waits 5 s for more replicas before a full sync by default; a test has one, so start at once.
      '--repl-diskless-sync-delay', '0', ...(replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(replicaOf)])];
    const child = spawnOwned(SERVER, args, { stdio: 'ignore' });
    children.set(port, child);
    await waitForPing(port, child);
  };
  await launchServer(primary);
  await launchServer(serverPorts[1] as number, primary);
  await waitFor(async () => /master_link_status:up/.test(await redisCli(serverPorts[1] as number, 'INFO', 'replication')),
    'the replica to finish its first sync', ORCHESTRATION);
  const sentinelPorts = [await freePort(), await freePort(), await freePort()];
  for (const port of sentinelPorts) {
    const conf = join(dir, `sentinel-${port}.conf`);
    await writeFile(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor mymaster 127.0.0.1 ${primary} 2`,
      'sentinel down-after-milliseconds mymaster 1000', 'sentinel failover-timeout mymaster 4000', 'loglevel warning', ''].join('\n'));
    const child = spawnOwned(SENTINEL, [conf], { stdio: 'ignore' });
    children.set(port, child);
    await waitForPing(port, child);
  }
  // Ready once every sentinel sees the replica and the two other sentinels (so a failover can be voted).
  for (const port of sentinelPorts) {
    await waitFor(async () => {
      const info = await redisCli(port, 'SENTINEL', 'MASTER', 'mymaster');
      return /num-slaves\n1\n/.test(info) && /num-other-sentinels\n2\n/.test(info);
    }, `sentinel ${port} to know the replica and its peers`, ORCHESTRATION);
  }
  const exited = (child: ChildProcess): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
  return {
    name: 'mymaster',
    sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
    serverPorts,
    primaryPort: async () => Number((await redisCli(sentinelPorts[0] as number, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')).split('\n')[1]),
    kill: (port) => void (children.get(port)?.pid !== undefined && process.kill(children.get(port)?.pid as number, 'SIGKILL')),
    restart: async (port, primaryPort) => {
      const child = children.get(port);
      if (child !== undefined) await exited(child);
      await launchServer(port, primaryPort);
    },
    stop: async () => {
      for (const child of children.values()) {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          process.kill(child.pid, 'SIGKILL');
          await exited(child);
        }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
