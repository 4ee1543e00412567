import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { ByteSink } from '../engine/byte-sink.js';

const CRLF = Buffer.from('\r\n');

/**
 * A ByteSink that writes HTTP/1.1 chunks straight to the socket once the headers are out. The hub hands the very same
 * frame buffer to every connection of a topic in one flush pass, so the framed chunk (`size CRLF data CRLF`) is built
 * once per frame and shared: each connection then costs one socket write, where `res.write` would rebuild the chunk
 * header and issue a three-part writev per connection. The response's own `end()` still writes the last chunk.
 */
export class ChunkedSocketSink implements ByteSink {
  private static framed = new WeakMap<Uint8Array, Buffer>();

  constructor(private readonly res: ServerResponse, private readonly socket: Socket) {}

  static frame(chunk: Uint8Array): Buffer {
    let framed = ChunkedSocketSink.framed.get(chunk);
    if (framed === undefined) {
      framed = Buffer.concat([Buffer.from(`${chunk.byteLength.toString(16)}\r\n`), chunk, CRLF]);
      ChunkedSocketSink.framed.set(chunk, framed);
    }
    return framed;
  }

  write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
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
    return this.socket.writableLength + this.res.writableLength;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  end(): void {
    this.res.end();
  }

  once(event: 'close', listener: () => void): this {
    this.res.once(event, listener);
    return this;
  }
}
