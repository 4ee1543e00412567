import { connect, type Socket } from 'node:net';

/** How a client that stopped reading goes away. */
export type LeaveMode = 'reset' | 'close' | 'half-close';

/**
 * How it asks: HTTP/1.1, HTTP/1.0, or HTTP/1.1 with a second request pipelined behind the stream's. The last two keep
 * the socket with node:http, so the stream writes through `res.write` instead of the socket handoff.
 */
export type RequestKind = 'http/1.1' | 'http/1.0' | 'pipelined';

function requestBytes(path: string, kind: RequestKind): string {
  if (kind === 'http/1.0') return `GET ${path} HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n`;
  const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`;
  return kind === 'pipelined' ? `${request}GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n` : request;
}

/**
 * An SSE subscriber over a raw TCP socket that sends its request and then reads nothing, so the server's writes fill
 * the socket buffers on both sides and the next write stays pending inside the server. `leave()` goes away in one of
 * the ways a browser or a network can: RST, close with unread data (the kernel also answers RST), or FIN.
 */
export class StalledClient {
  private readonly socket: Socket;
  readonly connected: Promise<void>;

  constructor(port: number, path: string, kind: RequestKind = 'http/1.1') {
    this.socket = connect({ port, host: '127.0.0.1' });
    this.socket.pause();
    this.socket.on('error', () => undefined);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => {
        this.socket.write(requestBytes(path, kind));
        resolve();
      });
      this.socket.once('error', reject);
    });
  }

  /** Leaves without reading what the server sent. Resolves once the socket is closed on this side. */
  async leave(mode: LeaveMode): Promise<void> {
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    if (mode === 'reset') this.socket.resetAndDestroy();
    else if (mode === 'close') this.socket.destroy();
    else {
      this.socket.end();
      // The server answers the FIN by closing its side; the unread bytes are then dropped here.
      setTimeout(() => this.socket.destroy(), 2_000).unref();
    }
    await closed;
  }
}
