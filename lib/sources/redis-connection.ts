import { Redis, type RedisOptions } from 'ioredis';

/** What a Redis source needs to open its connections; functions/build-source.ts fills it from the configuration. */
export interface RedisConnectionSettings {
  /** `redis://` or `rediss://` (TLS) URL, with optional `user:password@` and `/db`. */
  url: string;
  /** Called with every connection error (refused, reset, timed out). The connection keeps retrying by itself. */
  onConnectionError?: ((error: Error, role: ConnectionRole) => void) | undefined;
}

/**
 * `command`: publish, head, replay, ack — fails fast while Redis is away. `blocking`: one XREAD/BLMOVE at a time, never
 * shared, so a blocking read can never delay a publish.
 */
export type ConnectionRole = 'command' | 'blocking';

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

/**
 * Opens one ioredis connection for `role`. TLS is on for `rediss://` URLs; credentials come from the URL. The returned
 * client reconnects by itself; errors go to `settings.onConnectionError` (never to an unhandled `error` event).
 */
export function openRedisConnection(settings: RedisConnectionSettings, role: ConnectionRole): Redis {
  const options: RedisOptions = {
    ...DEFAULTS,
    // Non-blocking commands are bounded here; blocking reads are bounded by their callers (see BlockingReader).
    commandTimeout: role === 'command' ? COMMAND_TIMEOUT_MS : undefined,
    connectionName: `sse-relay:${role}`,
  };
  if (new URL(settings.url).protocol === 'rediss:') options.tls = {};
  const client = new Redis(settings.url, options);
  client.on('error', (error: Error) => settings.onConnectionError?.(error, role));
  return client;
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

// One wait per client, however many commands arrive during a connection attempt.
const attempts = new WeakMap<Redis, Promise<void>>();

/**
 * Resolves with `client` once it can take commands. While a connection attempt is under way (at start, or the moment
 * Redis comes back) it waits up to 500 ms for it; otherwise it returns at once and the command fails fast.
 */
export async function connected(client: Redis): Promise<Redis> {
  if (client.status !== 'connecting' && client.status !== 'connect') return client;
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
      const timer = setTimeout(done, CONNECTING_WAIT_MS);
      timer.unref?.();
      client.once('ready', done);
      client.once('close', done);
    });
    attempts.set(client, attempt);
  }
  await attempt;
  return client;
}

/** Whether Redis answers PING within `timeoutMs` (readiness of both Redis sources). */
export async function answersPing(redis: Redis, timeoutMs: number): Promise<boolean> {
  try {
    return (await withDeadline(timeoutMs, connected(redis).then((client) => client.ping()))) === 'PONG';
  } catch {
    return false;
  }
}
