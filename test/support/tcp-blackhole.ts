import { connect, createServer, type Server, type Socket } from 'node:net';

/** A loopback TCP proxy to `port` whose open connections can be cut as a middlebox does it: silently. */
export interface TcpBlackhole {
  /** `127.0.0.1:<port>` of the proxy. */
  readonly port: number;
  /** Connections opened through the proxy so far. */
  readonly opened: number;
  /**
   * Forgets every open connection the way a NAT or firewall forgets an idle flow: the server's side is closed, the
   * client's side stays open and swallows what it is sent, answering nothing (no FIN, no RST). New connections work.
   */
  drop(): void;
  close(): Promise<void>;
}

/** Starts the proxy on an ephemeral loopback port. */
export async function startTcpBlackhole(port: number): Promise<TcpBlackhole> {
  const pairs = new Set<[Socket, Socket]>();
  const swallowed = new Set<Socket>();
  let opened = 0;
  const server: Server = createServer((client) => {
    opened += 1;
    const upstream = connect(port, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return {
    port: address.port,
    get opened() {
      return opened;
    },
    drop: () => {
      for (const pair of pairs) {
        const [client, upstream] = pair;
        pairs.delete(pair);
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.removeAllListeners('close').removeAllListeners('error');
        upstream.removeAllListeners('close').removeAllListeners('error');
        upstream.on('error', () => undefined).destroy();
        client.on('error', () => undefined).on('data', () => undefined);
        swallowed.add(client);
      }
    },
    close: async () => {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      for (const client of swallowed) client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
