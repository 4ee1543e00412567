import type { Socket } from 'node:net';
import type { ByteSink } from '../engine/byte-sink.js';

const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');
// A stream that was ended but whose client does not read its last bytes would hold its socket and buffer forever.
export const END_GRACE_MS = 5_000;
// Bytes a client may send on a stream's connection before its end: a pipelined request waits here to be answered
// after the stream. A client sending more than a request's worth is not making requests; it is cut.
const PIPELINED_LIMIT = 65_536;
const SINK = Symbol('sse-relay.chunked-socket-sink');
type OwnedSocket = Socket & { [SINK]?: ChunkedSocketSink };

/**
 * The stream's only writer once node:http has handed its socket over (http-socket-handoff.ts): writes HTTP/1.1 chunks
 * straight to the socket, and the last chunk at the end. The hub hands the same frame buffer to every connection of a
 * topic in one flush pass, so the framed chunk (`size CRLF data CRLF`) is built once per frame and shared: each
 * connection costs one socket write, where `res.write` would rebuild the chunk header and issue a three-part writev.
 * Its socket listeners are shared functions, not closures, so an idle stream costs this object and nothing more.
 */
export class ChunkedSocketSink implements ByteSink {
  private static framed = new WeakMap<Uint8Array, Buffer>();
  private onClose: (() => void) | undefined;
  private pipelined: Buffer | undefined;
  private ended = false;
  /** True when the socket closed before the stream ended (the client went away first). */
  clientClosed = false;

  /**
   * `keepAlive`: after the last chunk the connection goes back to node:http through `handBack` for the client's next
   * request; otherwise it is closed.
   */
  constructor(
    private readonly socket: Socket,
    private readonly keepAlive: boolean,
    private readonly handBack: (socket: Socket, pipelined: Buffer | undefined) => void,
  ) {
    (socket as OwnedSocket)[SINK] = this;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onSocketClose);
    // node:http may have paused the socket; reading keeps a client's FIN or reset seen at once.
    socket.resume();
  }

  static frame(chunk: Uint8Array): Buffer {
    let framed = ChunkedSocketSink.framed.get(chunk);
    if (framed === undefined) {
      framed = Buffer.concat([Buffer.from(`${chunk.byteLength.toString(16)}\r\n`), chunk, CRLF]);
      ChunkedSocketSink.framed.set(chunk, framed);
    }
    return framed;
  }

  write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
    if (this.ended) {
      done?.(new Error('the stream has ended'));
      return false;
    }
    if (chunk.byteLength === 0) {
      done?.(null);
      return true;
    }
    return this.socket.write(ChunkedSocketSink.frame(chunk), done);
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Writes the last chunk; once it reached the kernel the connection is handed back (keep-alive) or closed. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const socket = this.socket;
    if (socket.destroyed) return;
    const grace = setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
    socket.write(LAST_CHUNK, () => {
      clearTimeout(grace);
      if (!socket.destroyed) this.release();
    });
  }

  once(event: 'close' | 'response-budget', listener: () => void): this {
    if (event === 'close') this.onClose = listener;
    return this;
  }

  private release(): void {
    const socket = this.socket as OwnedSocket;
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
    socket.off('close', onSocketClose);
    delete socket[SINK];
    if (this.keepAlive) return this.handBack(socket, this.pipelined);
    socket.end();
    setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
  }

  /** Drops the connection with what it still had queued (memory pressure). */
  destroy(): void {
    this.ended = true;
    this.socket.destroy();
  }

  /** Bytes the client sent while the stream was open: kept for node:http, up to a request's worth. */
  keep(bytes: Buffer): void {
    this.pipelined = this.pipelined === undefined ? bytes : Buffer.concat([this.pipelined, bytes]);
    if (this.pipelined.byteLength > PIPELINED_LIMIT || !this.keepAlive) this.socket.destroy();
  }

  /** The socket closed while this sink owned it. */
  closed(): void {
    if (!this.ended) this.clientClosed = true;
    const listener = this.onClose;
    this.onClose = undefined;
    listener?.();
  }
}

function onData(this: OwnedSocket, bytes: Buffer): void {
  this[SINK]?.keep(bytes);
}

// The client closed its side (node:http servers allow half-open sockets): it will read no more of the stream.
function onEnd(this: OwnedSocket): void {
  this.destroy();
}

// A reset or a write to a gone client: the socket closes next, which ends the stream.
function onError(this: OwnedSocket): void {
  this.destroy();
}

function onSocketClose(this: OwnedSocket): void {
  this[SINK]?.closed();
}
