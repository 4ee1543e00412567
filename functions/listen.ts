import type { Server } from 'node:net';
import { ConfigError } from '../lib/config/index.js';
import type { Logger } from '../lib/logger.js';

/** Where a listener binds, and the variable that chose its port (named in the error when the address is refused). */
export interface ListenTarget {
  port: number;
  host: string;
  backlog?: number;
  variable: 'PORT' | 'METRICS_PORT';
}

/**
 * Listens, or fails with a ConfigError that says which variable to change and how, instead of Node's unhandled
 * `EADDRINUSE` stack: a newcomer whose 8080 is taken learns to set PORT. Other listen errors are passed on as they are.
 *
 * `::` (every address, k8s/base/configmap.yaml) on a host booted without IPv6 (`ipv6.disable=1`, as some hardened
 * nodes are) cannot be bound at all (EAFNOSUPPORT): there every address is every IPv4 address, so it listens on
 * 0.0.0.0 instead, with a warning in the log, rather than crash-looping the pod.
 */
export async function listenOn(server: Server, target: ListenTarget, logger?: Pick<Logger, 'warn'>): Promise<void> {
  try {
    await listenOnce(server, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (target.host !== '::' || code !== 'EAFNOSUPPORT') throw explainListenError(error as NodeJS.ErrnoException, target);
    logger?.warn({ variable: 'HOST', host: '::', err: error }, `HOST: IPv6 is disabled on this host, so ${target.variable} listens on 0.0.0.0 (every IPv4 address) instead of ::`);
    await listenOnce(server, { ...target, host: '0.0.0.0' }).catch((again: NodeJS.ErrnoException) => {
      throw explainListenError(again, { ...target, host: '0.0.0.0' });
    });
  }
}

function listenOnce(server: Server, { port, host, backlog }: ListenTarget): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen({ port, host, backlog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The ConfigError for an address this process cannot have, or the error itself when it is something else. */
export function explainListenError(error: NodeJS.ErrnoException, { port, host, variable }: ListenTarget): Error {
  const where = `port ${port} on ${host}`;
  const example = variable === 'PORT' ? ' (PORT=9000 npm start)' : '';
  switch (error.code) {
    case 'EADDRINUSE':
      return ConfigError.unusable(variable, `${variable}: ${where} is already in use; stop what listens there, or set ${variable} to a free port${example}`, error);
    case 'EACCES':
      return ConfigError.unusable(variable, `${variable}: ${where} needs privileges this process does not have; set ${variable} to a port above 1023${example}`, error);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return ConfigError.unusable('HOST', `HOST: ${host} is not an address of this machine; set HOST to one of its addresses, 0.0.0.0 (every IPv4 address) or :: (every address)`, error);
    default:
      return error;
  }
}
