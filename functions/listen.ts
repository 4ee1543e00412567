import type { Server } from 'node:net';
import { ConfigError } from '../lib/config/index.js';

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
 */
export function listenOn(server: Server, target: ListenTarget): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException): void => reject(explainListenError(error, target));
    server.once('error', fail).listen({ port: target.port, host: target.host, backlog: target.backlog }, () => {
      server.off('error', fail);
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
