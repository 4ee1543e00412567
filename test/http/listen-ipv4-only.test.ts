import { describe, expect, it } from '@jest/globals';
import { connect, createServer, type AddressInfo, type ListenOptions, type Server } from 'node:net';
import { listenOn } from '../../functions/listen.js';

// HOST "::" (every address, as k8s/base/configmap.yaml sets it) on a node booted with ipv6.disable=1: the kernel has no
// AF_INET6 at all and refuses the bind with EAFNOSUPPORT. This machine has IPv6, so the refusal is the kernel's answer
// reproduced for "::" only; everything else is a real listener and a real connection.
function withoutIpv6(server: Server): Server {
  const listen = server.listen.bind(server) as (options: ListenOptions, callback?: () => void) => Server;
  const refusingIpv6 = (options: ListenOptions, callback?: () => void): Server => {
    if (options.host !== '::') return listen(options, callback);
    const refusal = Object.assign(new Error('listen EAFNOSUPPORT: address family not supported :::0'), { code: 'EAFNOSUPPORT', syscall: 'listen' });
    process.nextTick(() => server.emit('error', refusal));
    return server;
  };
  return Object.assign(server, { listen: refusingIpv6 });
}

function recordingLogger(): { warn: (fields: object, message: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (_fields, message) => void lines.push(message) };
}

describe('listening on HOST=::', () => {
  it('listens on every IPv4 address, with a warning, where the host has no IPv6', async () => {
    const server = withoutIpv6(createServer((socket) => socket.end('up')));
    const logger = recordingLogger();
    await listenOn(server, { port: 0, host: '::', variable: 'PORT' }, logger);
    try {
      expect((server.address() as AddressInfo).address).toBe('0.0.0.0');
      expect(logger.lines).toEqual(['HOST: IPv6 is disabled on this host, so PORT listens on 0.0.0.0 (every IPv4 address) instead of ::']);
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
        let text = '';
        socket.on('data', (chunk) => (text += chunk)).on('end', () => resolve(text)).on('error', reject);
      });
      expect(reply).toBe('up');
    } finally {
      server.close();
    }
  });

  it('keeps :: where the host has IPv6, and still names the variable when the port is taken', async () => {
    const server = createServer();
    const logger = recordingLogger();
    await listenOn(server, { port: 0, host: '::', variable: 'PORT' }, logger);
    const { address, port } = server.address() as AddressInfo;
    try {
      expect(address).toBe('::');
      expect(logger.lines).toEqual([]);
      await expect(listenOn(createServer(), { port, host: '::', variable: 'METRICS_PORT' }, logger))
        .rejects.toThrow(`METRICS_PORT: port ${port} on :: is already in use`);
    } finally {
      server.close();
    }
  });
});
