import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Server } from 'node:http';
import type { Config } from '../lib/config/index.js';
import type { Logger } from '../lib/logger.js';
import { clusterExposition, startMetricsListener } from './metrics-endpoint.js';

/** How the primary replaces workers that die on their own (not while it drains). */
export interface RespawnPolicy {
  /** Wait before the first replacement, ms; doubled after each further crash in a row. Default 500. */
  firstDelayMs: number;
  /** Longest wait between replacements, ms. Default 30000. */
  maxDelayMs: number;
  /** A worker that ran this long before dying resets the count of crashes in a row, ms. Default 60000. */
  stableMs: number;
  /** After this many crashes in a row the primary gives up: it drains the rest and exits 1 (the orchestrator restarts the pod). Default 10. */
  maxCrashesInRow: number;
}

export const DEFAULT_RESPAWN: RespawnPolicy = { firstDelayMs: 500, maxDelayMs: 30_000, stableMs: 60_000, maxCrashesInRow: 10 };

export interface WorkerPoolOptions {
  workers: number;
  logger: Logger;
  respawn?: RespawnPolicy;
  /** The primary's METRICS_PORT listener (every worker's metrics, summed), closed once the last worker has exited. */
  metricsServer?: Server;
}

/** What the primary reports about its workers (appended to the summed metrics). */
export interface WorkerPool {
  /** Workers replaced after dying on their own, since the start. */
  readonly restarts: number;
  /** Workers alive now. */
  readonly alive: number;
}

/** WORKERS as a count: `auto` is the CPUs this process may run on (os.availableParallelism: affinity, not a cgroup quota). */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

/**
 * Starts the primary of WORKERS=N: its METRICS_PORT listener serving every worker's metrics summed, then the workers.
 * The primary itself serves no stream and opens no source connection.
 */
export async function startPrimary(config: Config, logger: Logger, workers: number): Promise<void> {
  // Scrapes may come before the workers are forked.
  const started: { pool?: WorkerPool } = {};
  const extra = (): string => [
    '# HELP sse_worker_restarts_total Workers the primary replaced after they died on their own (WORKERS > 1).',
    '# TYPE sse_worker_restarts_total counter', `sse_worker_restarts_total ${started.pool?.restarts ?? 0}`,
    '# HELP sse_workers Server processes alive under the primary (WORKERS > 1).', '# TYPE sse_workers gauge', `sse_workers ${started.pool?.alive ?? 0}`, '',
  ].join('\n');
  // loadConfig refuses WORKERS > 1 without METRICS_PORT; 0 (tests) picks a free port, logged below.
  const metricsServer = await startMetricsListener(clusterExposition(extra), config.server.metricsPort ?? 0, config.server.host);
  const address = metricsServer.address();
  logger.info({ workers, metricsPort: typeof address === 'object' && address !== null ? address.port : undefined }, 'primary metrics listener open');
  started.pool = runWorkerPool({ workers, logger, metricsServer });
}

/**
 * The primary of WORKERS=N: forks N copies of this process (node:cluster; connections to PORT are handed to them in
 * turn), replaces one that dies with a doubling, capped delay, and on SIGTERM/SIGINT passes SIGTERM to every worker
 * so each drains its own streams as a single process would (readiness fails, paced `retry:` closes), then exits once
 * the last one has: 0 when all drained cleanly, 1 otherwise. A worker's own hard exit timer bounds the wait.
 */
export function runWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const policy = options.respawn ?? DEFAULT_RESPAWN;
  const { logger } = options;
  const startedAt = new Map<number, number>();
  let crashesInRow = 0;
  let draining = false;
  let failed = false;
  let restarts = 0;
  const respawnTimers = new Set<NodeJS.Timeout>();

  const fork = (): Worker => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    worker.once('listening', (address) => logger.info({ worker: worker.id, pid: worker.process.pid, port: address.port }, 'worker listening'));
    return worker;
  };

  const finishIfDone = (): void => {
    if (!draining || Object.keys(cluster.workers ?? {}).length > 0) return;
    options.metricsServer?.close();
    logger.info({ failed }, 'every worker has exited');
    process.exit(failed ? 1 : 0);
  };

  const drain = (signal: string): void => {
    if (draining) return;
    draining = true;
    for (const timer of respawnTimers) clearTimeout(timer);
    respawnTimers.clear();
    logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'draining every worker');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    finishIfDone();
  };

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker.id) ?? Date.now());
    startedAt.delete(worker.id);
    if (draining) {
      if (code !== 0) failed = true;
      logger.info({ worker: worker.id, code, signal }, 'worker exited');
      finishIfDone();
      return;
    }
    crashesInRow = lived >= policy.stableMs ? 1 : crashesInRow + 1;
    if (crashesInRow >= policy.maxCrashesInRow) {
      logger.error({ worker: worker.id, code, signal, crashesInRow }, 'workers keep dying; giving up');
      failed = true;
      drain('crash-loop');
      return;
    }
    const delayMs = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (crashesInRow - 1));
    logger.error({ worker: worker.id, code, signal, livedMs: lived, restartInMs: delayMs }, 'worker died; replacing it');
    const timer = setTimeout(() => {
      respawnTimers.delete(timer);
      if (draining) return;
      restarts += 1;
      fork();
    }, delayMs);
    respawnTimers.add(timer);
  });

  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
  for (let i = 0; i < options.workers; i += 1) fork();
  return {
    get restarts() { return restarts; },
    get alive() { return Object.keys(cluster.workers ?? {}).length; },
  };
}
