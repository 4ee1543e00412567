import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisCli } from './redis-cli.js';
import { ORCHESTRATION, waitFor } from './wait-for.js';
import { freePort, waitForPing } from './redis-server.js';
import { spawnOwned } from './owned-daemon.js';

/** Three primaries with one replica each (`redis-server --cluster-enabled yes`, `redis-cli --cluster create`) on loopback. */
export interface TestCluster {
  /** `127.0.0.1:port,…` of every node (REDIS_CLUSTER_NODES). */
  readonly nodes: string;
  readonly ports: readonly number[];
  /** The port of the primary that serves `slot` now. */
  ownerOf(slot: number): Promise<number>;
  /** The port of a replica of the primary on `port`. */
  replicaOf(port: number): Promise<number>;
  kill(port: number): void;
  /** Starts a killed node again with its cluster config: it rejoins as a replica of the primary that replaced it. */
  restart(port: number): Promise<void>;
  /** Moves `count` slots from the primary on `from` to the primary on `to` with `redis-cli --cluster reshard`. */
  reshard(from: number, to: number, count: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'sse-relay-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) ports.push(await freePort());
  const children = new Map<number, ChildProcess>();
  const launch = async (port: number): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout', '1000', '--appendonly', 'yes', '--appendfsync', 'always', '--appendfilename', `aof-${port}.aof`,
      '--appenddirname', `aof-${port}`, '--dbfilename', `dump-${port}.rdb`, '--dir', dir, '--save', '', '--repl-diskless-sync-delay', '0',
      '--daemonize', 'no', '--loglevel', 'warning'];
    const child = spawnOwned('/usr/bin/redis-server', args, { stdio: 'ignore' });
    children.set(port, child);
    await waitForPing(port, child);
  };
  const exited = (child: ChildProcess): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
  const killAll = async (): Promise<void> => {
    for (const child of children.values()) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, 'SIGKILL');
        await exited(child);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await launch(port);
    await redisCli(ports[0] as number, '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes');
    await waitFor(async () => {
      for (const port of ports) if (!/cluster_state:ok/.test(await redisCli(port, 'CLUSTER', 'INFO'))) return false;
      return true;
    }, 'the cluster to be ok on every node', ORCHESTRATION);
    await waitFor(async () => {
      for (const port of ports) {
        const info = await redisCli(port, 'INFO', 'replication');
        if (/role:slave/.test(info) && !/master_link_status:up/.test(info)) return false;
      }
      return true;
    }, 'every replica to finish its first sync', ORCHESTRATION);
  } catch (error) {
    // A cluster that never formed has no caller to stop it: stop the nodes started so far here.
    await killAll();
    throw error;
  }
  const alive = (): number[] => ports.filter((p) => children.get(p)?.exitCode === null && children.get(p)?.signalCode === null);
  const shards = async (): Promise<{ slots: [number, number][]; master: number; replicas: number[] }[]> => {
    const text = await redisCli(alive()[0] as number, 'CLUSTER', 'NODES');
    const lines = text.split('\n').map((l) => l.split(' '));
    const portOf = (address: string): number => Number(address.split('@')[0]?.split(':')[1]);
    return lines.filter((f) => f[2]?.includes('master') && !f[2].includes('fail')).map((f) => ({
      master: portOf(f[1] as string),
      slots: f.slice(8).filter((s) => !s.startsWith('[')).map((s) => s.split('-').map(Number) as [number, number]).map(([a, b]) => [a, b ?? a]),
      replicas: lines.filter((r) => r[3] === f[0] && !r[2]?.includes('fail')).map((r) => portOf(r[1] as string)),
    }));
  };
  const nodeId = async (port: number): Promise<string> => redisCli(port, 'CLUSTER', 'MYID');
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    ports,
    ownerOf: async (slot) => (await shards()).find((s) => s.slots.some(([a, b]) => slot >= a && slot <= b))?.master ?? -1,
    replicaOf: async (port) => (await shards()).find((s) => s.master === port)?.replicas[0] ?? -1,
    kill: (port) => void (children.get(port)?.pid !== undefined && process.kill(children.get(port)?.pid as number, 'SIGKILL')),
    restart: async (port) => {
      const child = children.get(port);
      if (child !== undefined) await exited(child);
      await launch(port);
    },
    reshard: async (from, to, count) => {
      await redisCli(from, '--cluster', 'reshard', `127.0.0.1:${from}`, '--cluster-from', await nodeId(from), '--cluster-to', await nodeId(to),
        '--cluster-slots', count, '--cluster-yes');
    },
    stop: killAll,
  };
}
