import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startNginxSite } from './nginx-site.js';
import { publish } from './relay-server.js';
import { RecordingEventSource, sequenceProblems } from './recording-event-source.js';
import { startRedis } from './redis-server.js';
import { startSequencePublisher } from './sequence-publisher.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { waitFor } from './wait-for.js';

/** Scale-out of relay processes (issue 15, point 5): three relays behind the project's nginx site on one Redis. */
export interface ScaleOutOptions {
  subscribers: number;
  topics: number;
  /** Messages per second over all topics. */
  ratePerSecond: number;
  /** Publishing before the SIGKILL, and again after it, ms. */
  phaseMs: number;
  /** nginx worker_connections. Default: four per subscriber + 1024 (at two per stream + 256, 3,000 streams made nginx close idle keep-alive connections, "worker_connections are not enough, reusing connections", and reconnects stalled for up to 60 s). */
  workerConnections?: number;
  /** nginx's listen backlog (see NginxSiteOptions). Default: nginx's. */
  backlog?: number;
  /** Progress lines (the bench prints them; tests pass nothing). */
  log?: (line: string) => void;
}

export interface ScaleOutReport {
  subscribers: number;
  topics: number;
  /** Open streams per relay before the kill (from each relay's /metrics). */
  perRelay: number[];
  /** Streams of the killed relay (its sse_connections_open just before the SIGKILL). */
  onKilled: number;
  /** Subscribers whose stream broke after the kill and that opened again (through nginx, on another relay). */
  moved: number;
  /** Subscribers that broke at any other time, or whose EventSource gave up. */
  strays: number;
  /** Kill → reopened, over the moved subscribers, ms. */
  reopenMs: { p50: number; max: number };
  /** Open streams per surviving relay at the end. */
  perRelayAfter: number[];
  published: number;
  /** POST /publish answers that were not 202 and were retried with the same id (e.g. 502 from nginx while the relay died). */
  retried: number;
  /** Why the failed requests (status 0) failed, by message. */
  failures: Record<string, number>;
  /** Event-loop delay of the process that runs the subscribers and the publisher: when large, its own lateness shows in the times. */
  driverLoopDelayMs: { p99: number; max: number };
  /** The answers that were retried, by status (0: the request failed, e.g. nginx closed it). */
  retriedStatuses: Record<string, number>;
  /** Events delivered over all subscribers. */
  delivered: number;
  /** nginx error.log lines at level warn and above, counted by message (without the connection details). */
  nginxErrors: Record<string, number>;
  /** Each subscriber that missed, repeated or reordered anything; empty when everyone got everything in order. */
  problems: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `sse_connections_open` of one relay. */
export async function openStreams(relay: ServerProcess): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  return Number(/^sse_connections_open (\d+)/m.exec(text)?.[1] ?? NaN);
}

/**
 * Subscribes `subscribers` EventSources through nginx, publishes numbered messages through nginx, SIGKILLs the second
 * relay half-way, and reports what every subscriber saw. The caller judges the report.
 */
export async function runScaleOut(options: ScaleOutOptions): Promise<ScaleOutReport> {
  const log = options.log ?? ((): void => undefined);
  const redis = await startRedis();
  const relays: ServerProcess[] = [];
  const readers: RecordingEventSource[] = [];
  try {
    const env = {
      SOURCE: 'redis', REDIS_URL: redis.url, RETRY_MS: '1000', HEARTBEAT_MS: '5000', SHUTDOWN_DRAIN_MS: '0', DEMO: 'false',
      MAX_CONNECTIONS: String(options.subscribers + 100), MAX_CONNECTIONS_PER_CLIENT: String(options.subscribers + 100),
    };
    relays.push(...(await Promise.all([1, 2, 3].map(() => startServerProcess(env, 20_000)))));
    const nginx = await startNginxSite(relays.map((r) => r.port), {
      workerConnections: options.workerConnections ?? 4 * options.subscribers + 1024, ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
    });
    try {
      const report = await subscribePublishKill(`http://127.0.0.1:${nginx.port}`, relays, readers, options, log);
      return { ...report, nginxErrors: await nginxErrors(nginx.dir) };
    } finally {
      readers.forEach((r) => r.close());
      await nginx.stop();
    }
  } finally {
    readers.forEach((r) => r.close());
    await Promise.all(relays.map((r) => r.kill('SIGKILL')));
    await redis.stop();
  }
}

async function nginxErrors(dir: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const line of (await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')).split('\n')) {
    const match = /\[(warn|error|crit|alert|emerg)\] \d+#\d+: (?:\*\d+ )?([^,]*)/.exec(line);
    if (match !== null) counts[`${match[1]}: ${match[2]}`] = (counts[`${match[1]}: ${match[2]}`] ?? 0) + 1;
  }
  return counts;
}

async function subscribePublishKill(url: string, relays: ServerProcess[], readers: RecordingEventSource[], options: ScaleOutOptions,
  log: (line: string) => void): Promise<Omit<ScaleOutReport, 'nginxErrors'>> {
  const topics = Array.from({ length: options.topics }, (_, i) => `scale${i}`);
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  for (let i = 0; i < options.subscribers; i++) {
    const topic = topics[i % topics.length] as string;
    readers.push(new RecordingEventSource(`${url}/events?topic=${topic}`, topic));
    if (i % 100 === 99) await sleep(20); // let nginx accept in waves rather than one burst of thousands
  }
  await untilLive(url, readers, topics);
  const perRelay = await Promise.all(relays.map(openStreams));
  log(`${options.subscribers} subscribers live through nginx; streams per relay ${perRelay.join(' / ')}`);

  const publisher = startSequencePublisher({ url, topics, ratePerSecond: options.ratePerSecond });
  // A load phase: its length is the scenario's parameter (the bench runs 8 s). On a loaded machine the publisher falls
  // behind its schedule, so a phase also lasts until most of what was due has been acknowledged: the kill must fall
  // in the middle of traffic, whatever the machine's speed.
  const due = (ms: number): number => Math.floor((ms / 1_000) * options.ratePerSecond * 0.6);
  await sleep(options.phaseMs);
  await waitFor(() => publisher.acknowledged() >= due(options.phaseMs), 'the first load phase\'s messages', { timeoutMs: 30_000, everyMs: 50 });
  const victim = relays[1] as ServerProcess;
  const onKilled = await openStreams(victim);
  const killedAt = Date.now();
  await victim.kill('SIGKILL');
  log(`relay ${victim.pid} SIGKILLed with ${onKilled} streams`);
  await sleep(options.phaseMs); // the second load phase, on the survivors
  await waitFor(() => publisher.acknowledged() >= due(2 * options.phaseMs), 'the second load phase\'s messages', { timeoutMs: 30_000, everyMs: 50 });
  const logs = await publisher.stop();
  const published = logs.reduce((sum, l) => sum + l.acknowledged, 0);

  const byTopic = new Map(logs.map((l) => [l.topic, l]));
  const complete = (r: RecordingEventSource): boolean => r.sequence.length >= (byTopic.get(r.topic)?.acknowledged ?? 0);
  // Whoever is still short after that is named in `problems` below.
  await waitFor(() => readers.every((r) => complete(r) || r.closed), 'every subscriber to hold every acknowledged message', { timeoutMs: 90_000, everyMs: 100 })
    .catch(() => undefined);

  const movedReaders = readers.filter((r) => r.errors.some((t) => t >= killedAt) && r.opens.some((t) => t > killedAt));
  const reopen = movedReaders.map((r) => (r.opens.find((t) => t > killedAt) as number) - killedAt).sort((a, b) => a - b);
  const problems = readers.flatMap((r, i) => [
    ...sequenceProblems(`subscriber ${i}`, r, byTopic.get(r.topic) as (typeof logs)[number]),
    ...(r.closed ? [`subscriber ${i}: its EventSource gave up (a non-200 answer on reconnect)`] : []),
  ]);
  problems.push(...logs.filter((l) => l.abandoned > 0).map((l) => `publisher: gave up on a message of ${l.topic}`));
  return {
    subscribers: options.subscribers, topics: options.topics, perRelay, onKilled, moved: movedReaders.length,
    strays: readers.filter((r) => r.closed || r.errors.some((t) => t < killedAt) || r.opens.length > (movedReaders.includes(r) ? 2 : 1)).length,
    reopenMs: { p50: reopen[Math.floor(reopen.length / 2)] ?? 0, max: reopen.at(-1) ?? 0 },
    perRelayAfter: await Promise.all([relays[0], relays[2]].map((r) => openStreams(r as ServerProcess))),
    published, retried: logs.reduce((sum, l) => sum + l.refused.length, 0),
    retriedStatuses: logs.flatMap((l) => l.refused).reduce<Record<string, number>>((counts, s) => ({ ...counts, [s]: (counts[s] ?? 0) + 1 }), {}),
    failures: logs.flatMap((l) => Object.entries(l.failures)).reduce<Record<string, number>>((c, [why, n]) => ({ ...c, [why]: (c[why] ?? 0) + n }), {}),
    driverLoopDelayMs: { p99: Math.round(loop.percentile(99) / 1e6), max: Math.round(loop.max / 1e6) },
    delivered: readers.reduce((sum, r) => sum + r.sequence.length, 0), problems,
  };
}

/**
 * Resolves once every subscriber has received a message published after it subscribed: from then on its stream is
 * live, so it must see everything that follows. Warm-up messages carry no `seq` and are ignored by the checks.
 */
export async function untilLive(url: string, readers: readonly RecordingEventSource[], topics: readonly string[], timeoutMs = 60_000): Promise<void> {
  let round = 0;
  let waiting = new Set<string>();
  await waitFor(async () => {
    waiting = new Set(readers.filter((r) => r.events.length === 0).map((r) => r.topic));
    if (waiting.size === 0) return true;
    // A warm-up publish that fails is simply sent again next round.
    round += 1;
    await Promise.all(topics.filter((t) => waiting.has(t)).map((topic) => publish(url, { topic, data: JSON.stringify({ warm: round }) }).catch(() => undefined)));
    return false;
  }, () => `a message on every subscriber (subscribers of ${waiting.size} topics received nothing; ${readers.filter((r) => r.closed).length} EventSources gave up)`,
  { timeoutMs, everyMs: 250 });
}
