import type { ServerResponse } from 'node:http';
import { ForwardingSink } from './forwarding-sink.js';

/**
 * The stream's sink when node:http keeps the socket (no handoff: HTTP/1.0, a pipelined request, an untested Node
 * major): the ServerResponse, with `destroyed` read from its socket. A ServerResponse only learns that its socket is gone
 * from the socket's 'close' event, which comes after the destroy; meanwhile node:http calls a pending write's callback
 * with no error and drops later writes without calling back at all (OutgoingMessage._writeRaw). Queue sources
 * acknowledge on that callback, so both would lose a message: the first deleted, the second held for ever.
 */
export class ResponseSink extends ForwardingSink {
  constructor(private readonly res: ServerResponse) {
    super(res);
  }

  override write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
    if (this.destroyed) {
      done?.(new Error('the client has gone'));
      return false;
    }
    return super.write(chunk, done);
  }

  override get destroyed(): boolean {
    return this.res.destroyed || this.res.socket?.destroyed === true;
  }
}
