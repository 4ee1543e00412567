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
  const metricsServer = await startMetricsListener(clusterExposition(extra), config.server.metricsPort ?? 0, config.server.host, config.server.requestTimeoutMs, logger);
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
  const supervisor = new WorkerSupervisor(options);
  cluster.on('exit', (worker, code, signal) => supervisor.exited(worker, code, signal));
  process.on('SIGTERM', () => supervisor.drain('SIGTERM'));
  process.on('SIGINT', () => supervisor.drain('SIGINT'));
  supervisor.start();
  return supervisor;
}

/** Owns the primary's view of its workers: when each started, crashes in a row, pending replacements, the drain. */
class WorkerSupervisor implements WorkerPool {
  private readonly policy: RespawnPolicy;
  private readonly startedAt = new Map<number, number>();
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  private crashesInRow = 0;
  private draining = false;
  private failed = false;
  private replaced = 0;

  constructor(private readonly options: WorkerPoolOptions) {
    this.policy = options.respawn ?? DEFAULT_RESPAWN;
  }

  get restarts(): number {
    return this.replaced;
  }

  get alive(): number {
    return Object.keys(cluster.workers ?? {}).length;
  }

  start(): void {
    for (let i = 0; i < this.options.workers; i += 1) this.fork();
  }

  /** Passes SIGTERM to every worker and stops replacing them; the process exits once the last one has. */
  drain(reason: string): void {
    if (this.draining) return;
    this.draining = true;
    for (const timer of this.respawnTimers) clearTimeout(timer);
    this.respawnTimers.clear();
    this.options.logger.info({ signal: reason, workers: this.alive }, 'draining every worker');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    this.finishIfDone();
  }

  exited(worker: Worker, code: number | null, signal: string | null): void {
    const livedMs = Date.now() - (this.startedAt.get(worker.id) ?? Date.now());
    this.startedAt.delete(worker.id);
    if (this.draining) {
      if (code !== 0) this.failed = true;
      this.options.logger.info({ worker: worker.id, code, signal }, 'worker exited');
      this.finishIfDone();
      return;
    }
    this.crashesInRow = livedMs >= this.policy.stableMs ? 1 : this.crashesInRow + 1;
    if (this.crashesInRow >= this.policy.maxCrashesInRow) {
      this.options.logger.error({ worker: worker.id, code, signal, crashesInRow: this.crashesInRow }, 'workers keep dying; giving up');
      this.failed = true;
      this.drain('crash-loop');
      return;
    }
    const delayMs = Math.min(this.policy.maxDelayMs, this.policy.firstDelayMs * 2 ** (this.crashesInRow - 1));
    this.options.logger.error({ worker: worker.id, code, signal, livedMs, restartInMs: delayMs }, 'worker died; replacing it');
    const timer = setTimeout(() => {
      this.respawnTimers.delete(timer);
      this.replaced += 1;
      this.fork();
    }, delayMs);
    this.respawnTimers.add(timer);
  }

  private fork(): void {
    const worker = cluster.fork();
    this.startedAt.set(worker.id, Date.now());
    worker.once('listening', (address) => this.options.logger.info({ worker: worker.id, pid: worker.process.pid, port: address.port }, 'worker listening'));
  }

  private finishIfDone(): void {
    if (!this.draining || this.alive > 0) return;
    this.options.metricsServer?.close();
    this.options.logger.info({ failed: this.failed }, 'every worker has exited');
    process.exit(this.failed ? 1 : 0);
  }
}
