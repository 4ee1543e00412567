import { Cluster, Redis, type ClusterOptions, type Command, type RedisOptions } from 'ioredis';
import type { Duplex } from 'node:stream';
import { refuseMisfitServer } from './misfit-server.js';
import type { RedisTarget } from './target.js';

/** What a Redis source needs to open its connections; functions/build-source.ts fills it from the configuration. */
export interface RedisConnectionSettings {
  /** `redis://` or `rediss://` (TLS) URL, with optional `user:password@` and `/db`. Used when `target` is absent. */
  url?: string | undefined;
  /** Single server, Sentinel or Cluster (see RedisTarget). Default: the single server at `url`. */
  target?: RedisTarget | undefined;
  /** Called with every connection error (refused, reset, timed out). The connection keeps retrying by itself. */
  onConnectionError?: ((error: Error, role: ConnectionRole) => void) | undefined;
}

/**
 * `command`: head, replay, ack — fails fast while Redis is away. `publish`: appends that wait for replicas (`WAIT`
 * holds its connection, so it never delays a replay). `blocking`: one XREAD/BLMOVE at a time, never shared, so a
 * blocking read can never delay a publish.
 */
export type ConnectionRole = 'command' | 'publish' | 'blocking';

/** A connection to one server or Sentinel-managed primary, or to a whole Redis Cluster: the commands are the same. */
export type RedisClient = Redis | Cluster;

/** Longest a non-blocking command may take before it fails, ms (a paused Redis answers nothing). */
export const COMMAND_TIMEOUT_MS = 2_000;

const DEFAULTS = {
  // Commands while disconnected fail at once instead of piling up in memory: POST /publish answers 503 right away, and
  // nothing grows while Redis is down.
  enableOfflineQueue: false,
  // A command in flight when the connection drops fails instead of being sent again on reconnect. For XADD that avoids a
  // silent duplicate; for XREAD BLOCK it avoids a re-sent blocking read nobody waits for (ioredis issues #1285, #2193).
  autoResendUnfulfilledCommands: false,
  // 0 = on every disconnect, reject what is in flight. With autoResendUnfulfilledCommands false and ioredis 6.0.0 this
  // is also what settles those commands at all (#2193: the stashed queue is otherwise dropped unsettled).
  maxRetriesPerRequest: 0,
  // Reconnect forever, 100 ms, 200 ms … at most 1 s apart, so recovery after a restart takes about a second.
  retryStrategy: (attempt: number): number => Math.min(attempt * 100, 1_000),
  connectTimeout: 3_000,
  // Detects a dead peer on an idle connection (a blocking read is idle from TCP's point of view).
  keepAlive: 10_000,
  // The sources connect in the background; startup never waits for (or fails on) Redis.
  lazyConnect: false,
} as const satisfies RedisOptions;

/** The target of `settings`: its `target`, else the single server at its `url`. */
export function targetOf(settings: RedisConnectionSettings): RedisTarget {
  if (settings.target !== undefined) return settings.target;
  if (settings.url === undefined) throw new Error('Redis settings need a url or a target');
  return { kind: 'single', url: settings.url };
}

/**
 * Options of one server connection for `role`. `extraMs` lengthens the command timeout of a `publish` connection by the
 * time WAIT may hold it.
 */
export function serverOptions(role: ConnectionRole, extraMs = 0): RedisOptions {
  return {
    ...DEFAULTS,
    // Non-blocking commands are bounded here; blocking reads are bounded by their callers (see RedisLiveFeed).
    commandTimeout: role === 'blocking' ? undefined : COMMAND_TIMEOUT_MS + extraMs,
    connectionName: `sse-relay:${role}`,
  };
}

/**
 * Opens one ioredis connection for `role`: to the server of a `redis://`/`rediss://` URL (TLS for `rediss:`,
 * credentials from the URL), or to the primary that the sentinels name (it follows a failover by itself), or, for a
 * cluster, an ioredis Cluster (one connection per node it needs). Errors go to `settings.onConnectionError` (never to an
 * unhandled `error` event).
 */
export function openRedisConnection(settings: RedisConnectionSettings, role: ConnectionRole, extraMs = 0): RedisClient {
  const target = targetOf(settings);
  const options = serverOptions(role, extraMs);
  let client: RedisClient;
  if (target.kind === 'single') {
    if (new URL(target.url).protocol === 'rediss:') options.tls = {};
    client = refuseMisfitServer(watchDrops(new Redis(target.url, options)), role, dropConnection);
  } else if (target.kind === 'sentinel') {
    client = watchDrops(new Redis({ ...options, ...sentinelOptions(target) }));
  } else {
    const cluster = new Cluster(target.nodes, clusterOptions(target, options));
    cluster.once('ready', () => clustersUp.add(cluster));
    client = cluster;
  }
  client.on('error', (error: Error) => settings.onConnectionError?.(error, role));
  return client;
}

/**
 * An ioredis connection that reconnects when a command times out. A connection a middlebox forgot (a NAT or a Lambda
 * network interface dropping an idle flow, typically while a Lambda sandbox is frozen and sends no keep-alive) answers
 * nothing and reports no error: without this every command on it timed out, one 503 after another, until TCP gave up
 * (about 15 minutes). The socket is destroyed, not ended: ending waits for the peer's FIN, which never comes. A Redis
 * that is only slow loses its in-flight commands (they fail, as the timed-out one did) and is connected to again.
 */
function reconnectOnTimeout(client: Redis): void {
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown => {
    const sent = send(command, stream);
    command.promise.catch((error: unknown) => {
      if ((error as Error | undefined)?.message === 'Command timed out' && client.status === 'ready') dropConnection(client);
    });
    return sent;
  };
}

// Connections that were ready, dropped, and wait for their first reconnection attempt (ioredis's retry timer).
const firstRetry = new WeakSet<RedisClient>();

/**
 * Tracks `firstRetry` for `client` (and reconnects it on a command timeout). A Lambda sandbox frozen when its connection dropped (Redis restarted, CLIENT KILL,
 * an idle timeout) learns of it only on thaw, as the next request arrives; the retry timer is then still pending, and
 * failing fast would answer that request 503 although Redis is there.
 */
function watchDrops(client: Redis): Redis {
  reconnectOnTimeout(client);
  let retries = 0;
  client.on('ready', () => {
    retries = 0;
    firstRetry.delete(client);
  });
  client.on('reconnecting', () => {
    retries += 1;
    if (retries === 1) firstRetry.add(client);
    else firstRetry.delete(client);
  });
  return client;
}

/** A plain connection to one cluster node (a partition's blocking reader), with the cluster's credentials and TLS. */
export function openNodeConnection(settings: RedisConnectionSettings, host: string, port: number, role: ConnectionRole): Redis {
  const target = targetOf(settings);
  const options = serverOptions(role);
  if (target.kind === 'cluster') Object.assign(options, authOptions(target.auth));
  const client = watchDrops(new Redis({ ...options, host, port }));
  client.on('error', (error: Error) => settings.onConnectionError?.(error, role));
  return client;
}

function authOptions(auth: { username?: string | undefined; password?: string | undefined; tls: boolean }): RedisOptions {
  return { username: auth.username, password: auth.password, ...(auth.tls ? { tls: {} } : {}) };
}

function sentinelOptions(target: Extract<RedisTarget, { kind: 'sentinel' }>): RedisOptions {
  return {
    ...authOptions(target.auth),
    sentinels: target.sentinels,
    name: target.name,
    role: 'master',
    sentinelPassword: target.sentinelPassword,
    enableTLSForSentinelMode: target.auth.tls,
    ...(target.auth.tls ? { sentinelTLS: {} } : {}),
    // A primary demoted while this connection stayed open answers writes with READONLY: reconnect, which asks the
    // sentinels for the primary again.
    reconnectOnError: (error: Error): boolean => error.message.startsWith('READONLY'),
    sentinelRetryStrategy: (attempt: number): number => Math.min(attempt * 100, 1_000),
  };
}

function clusterOptions(target: Extract<RedisTarget, { kind: 'cluster' }>, options: RedisOptions): ClusterOptions {
  return {
    redisOptions: { ...options, ...authOptions(target.auth) },
    // Same policy as a single server: while a slot has no reachable primary, commands fail at once (503), they do not
    // queue in memory.
    enableOfflineQueue: false,
    scaleReads: 'master',
    clusterRetryStrategy: (attempt: number): number => Math.min(attempt * 100, 1_000),
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2_000,
    // TLS certificates name the configured host (ElastiCache, MemoryDB), not the IP addresses CLUSTER SLOTS returns.
    ...(target.auth.tls ? { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) } : {}),
  };
}

/**
 * Closes `client`'s socket at once and lets it reconnect (its retry strategy). `disconnect(true)` ends the socket
 * instead, which waits for the peer's FIN: a peer a middlebox forgot never sends one, and the connection stayed
 * "disconnecting" for minutes, reading nothing.
 */
export function dropConnection(client: Redis): void {
  const socket = client.stream as Duplex | undefined;
  if (socket !== undefined && !socket.destroyed) socket.destroy();
  else client.disconnect(true);
}

/** Resolves after `ms`, or at once when `signal` aborts. The timer never keeps the process alive. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref?.();
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Settles like `command`, but rejects after `ms` and then calls `onTimeout` (a blocking reader disconnects there, so a
 * late reply can never be matched to a newer read). Bounds every wait even when Redis is paused (SIGSTOP) or the
 * network silently drops packets.
 */
export async function withDeadline<T>(ms: number, command: Promise<T>, onTimeout?: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`Redis did not answer within ${ms} ms`));
    }, ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([command, deadline]);
  } finally {
    clearTimeout(timer);
    command.catch(() => undefined);
  }
}

/** Longest a command waits for a connection attempt already under way, ms. */
const CONNECTING_WAIT_MS = 500;
/**
 * How long a command waits for a Redis Cluster that has never been ready, ms. Its first connection is a slot map
 * (CLUSTER SLOTS), a connection to every primary and a ready check, and an attempt fails (and is retried after 100 ms)
 * while a node reports the cluster down for a moment: a cold Lambda's first request met that about once in eight on a
 * fresh 3+3 cluster, and answered 503 (`Cluster isn't ready`) while the cluster was there.
 */
const CLUSTER_CONNECTING_WAIT_MS = 2_000;

// Clusters that have been ready once. Before that, a failed attempt is part of connecting, and a command waits through
// it (up to CLUSTER_CONNECTING_WAIT_MS); after it, a lost cluster fails commands at once, as a lost server does.
const clustersUp = new WeakSet<Cluster>();

// One wait per client, however many commands arrive during a connection attempt.
const attempts = new WeakMap<RedisClient, Promise<void>>();

/**
 * Resolves with `client` once it can take commands. While a connection attempt is under way (at start, the moment
 * Redis comes back, or the first retry after a connection that was ready dropped) it waits up to 500 ms for it, and a
 * Cluster that has never been ready up to 2 s, through failed attempts; otherwise (Redis away for longer) it returns
 * at once and the command fails fast.
 */
export async function connected<C extends RedisClient>(client: C): Promise<C> {
  const starting = client instanceof Cluster && !clustersUp.has(client) && client.status !== 'ready' && client.status !== 'end';
  const attempting = starting || client.status === 'connecting' || client.status === 'connect' || (client.status === 'reconnecting' && firstRetry.has(client));
  if (!attempting) return client;
  let attempt = attempts.get(client);
  if (attempt === undefined) {
    attempt = new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        client.off('ready', done);
        client.off('close', done);
        attempts.delete(client);
        resolve();
      };
      const timer = setTimeout(done, starting ? CLUSTER_CONNECTING_WAIT_MS : CONNECTING_WAIT_MS);
      timer.unref?.();
      client.once('ready', done);
      if (!starting) client.once('close', done);
    });
    attempts.set(client, attempt);
  }
  await attempt;
  return client;
}

/** Whether Redis answers PING within `timeoutMs` (readiness of both Redis sources); retried once on a stale connection. */
export async function answersPing(redis: RedisClient, timeoutMs: number): Promise<boolean> {
  const ping = (): Promise<string> => withDeadline(timeoutMs, connected(redis).then((client) => client.ping()), () => {
    if (redis instanceof Redis && redis.status === 'ready') dropConnection(redis);
  });
  try {
    return (await retryOnStale(redis, ping)) === 'PONG';
  } catch {
    return false;
  }
}

/**
 * Whether `error` is what a command gets from a connection that died unseen: its timeout, the drop found on use, or the
 * refusal of a connection found closed a moment before (its reconnection not yet under way).
 */
function isStale(error: unknown): boolean {
  const { message = '' } = (error ?? {}) as Partial<Error>;
  // By message, not name: ioredis's errors take their name from their class, and the Lambda bundle is minified, so
  // there a MaxRetriesPerRequestError is called something like `Fr` (an acknowledgement answered 503 for it).
  return message.startsWith('Reached the max retries per request limit') || message === 'Command timed out'
    || message.startsWith('Redis did not answer within') || message.startsWith("Stream isn't writeable");
}

/**
 * Longest an idempotent read found stale waits for its connection to be ready again, ms. A thawed Lambda sandbox has a
 * fraction of a vCPU and may need a TLS handshake, AUTH and HELLO before the connection is ready: 500 ms was too short
 * on a loaded host (an acknowledgement answered 503 although Redis was there). As long as a command may take.
 */
const STALE_RECONNECT_WAIT_MS = COMMAND_TIMEOUT_MS;

/**
 * Runs an idempotent read, and once more, after the reconnection (≤2 s), if it failed because its connection had
 * died unseen. A Lambda sandbox thawed after a Redis restart, a CLIENT KILL or a middlebox forgetting an idle flow
 * learns of it only from the first command it sends; without the retry that request (a browser's GET /events, whose
 * EventSource gives up on a 503) failed although Redis was there.
 */
export async function retryOnStale<T>(client: RedisClient, read: () => Promise<T>): Promise<T> {
  // Only a connection believed up (or just dropped) can have died unseen; one known to be away (Redis down for longer
  // than the first retry) fails fast, as before, so a 503 is not held back per request: the wait is once per drop.
  const believedUp = client.status === 'ready' || firstRetry.has(client);
  try {
    return await read();
  } catch (error) {
    if (!believedUp || !isStale(error)) throw error;
    await nextReady(client, STALE_RECONNECT_WAIT_MS);
    return read();
  }
}

/** Resolves when `client` is ready (again), or after `ms`. */
function nextReady(client: RedisClient, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref?.();
    client.once('ready', done);
  });
}
