import type { Command, Redis } from 'ioredis';

/**
 * Keeps a REDIS_URL connection from working against a server it cannot serve correctly, so that /readyz, /events and
 * POST /publish answer 503 (as for a wrong password) and the error it reports names REDIS_URL and the fix. `role` is the
 * connection's (a blocking one is not checked for cluster mode: its read would delay the check, and the command
 * connection's refusal already makes every request 503).
 *
 * - A database Redis refuses (`/99` where it has 16, any `/N` on a cluster node): ioredis 6 only emits the SELECT's
 *   error and goes on, ready, in database 0; the connection is dropped in its handshake, so it is never ready. Seen: /readyz 200 and every publish 202, written beside another
 *   application's keys.
 * - A server in cluster mode (`cluster_enabled:1`: a Redis Cluster node, ElastiCache Serverless, a cluster in
 *   "compatible" mode): it refuses a multi-key command over keys of several slots (CROSSSLOT), even when one node holds
 *   them all. Seen on a one-node cluster: /readyz 200 and plain publishes 202, but every keyed publish 503 and a stream
 *   of two topics received nothing, its read failing for ever. REDIS_CLUSTER_NODES uses the hash-tagged key layout.
 */
export function refuseMisfitServer(client: Redis, role: string, drop: (client: Redis) => void): Redis {
  client.prependListener('error', (error: Error & { command?: { name?: string } }) => {
    if (error.command?.name?.toLowerCase() !== 'select') return;
    drop(client);
    error.message = `REDIS_URL names database ${String(client.options.db)}, which this Redis refuses (${error.message}): name a database below its \`databases\` setting (16 by default), or none on a cluster node`;
  });
  if (role !== 'blocking') refuseClusterMode(client);
  return client;
}

const CLUSTER_MODE = 'REDIS_URL names a server in cluster mode (cluster_enabled:1), where reads and keyed publishes over several topics fail with CROSSSLOT: set REDIS_CLUSTER_NODES=host:port (with REDIS_TLS=true for TLS, REDIS_USERNAME and REDIS_PASSWORD) instead of REDIS_URL';

// Checked on every (re)connection with `INFO cluster`; while the server is in cluster mode every other command fails at
// once with CLUSTER_MODE (PING too, so /readyz answers 503). The connection stays open: dropping it made ioredis
// reconnect within 0.1 s and be ready again before each check, and /readyz answered 200 in between.
function refuseClusterMode(client: Redis): void {
  let refusal: string | undefined;
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown => {
    if (refusal === undefined || client.status !== 'ready' || command.name === 'info') return send(command, stream);
    command.reject(new Error(refusal));
    return command.promise;
  };
  client.on('ready', () => {
    client.info('cluster').then((info) => {
      const before = refusal;
      refusal = /^cluster_enabled:1\b/m.test(info) ? CLUSTER_MODE : undefined;
      if (refusal !== undefined && before === undefined) client.emit('error', new Error(refusal));
    }, () => undefined);
  });
}
