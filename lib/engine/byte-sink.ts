/**
 * Where a stream's bytes go: the structural part of a Node Writable that the core needs (a ServerResponse in the
 * container, awslambda.HttpResponseStream on Lambda). Keeping it structural lets the core stay free of node:http.
 */
export interface ByteSink {
  /** Queues bytes; false once the sink's own buffer is past its high-water mark. `done` runs when handed to the OS. */
  write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean;
  /**
   * True once the underlying connection is gone. Read inside a write's `done`: Node calls the callback of a write that
   * was still pending when the socket was destroyed with no error (lib/internal/stream_base_commons onWriteComplete),
   * so only this tells a frame that reached the kernel from one that was dropped.
   */
  readonly destroyed?: boolean;
  /** Bytes accepted by write() but not yet handed to the OS. */
  readonly writableLength: number;
  /** Batches the writes until uncork() into one system call (writev). */
  cork(): void;
  uncork(): void;
  /** Ends the stream after what is queued. */
  end(): void;
  /**
   * Drops the connection at once, with whatever it still had queued: a stream cut to relieve memory pressure must let
   * go of its backlog now, not after end()'s grace for a client that never reads. Optional: a sink without it is ended.
   */
  destroy?(): void;
  /**
   * Hears that the stream is closed: the client went away (container), or the response finished. Listening on the sink
   * itself costs an open stream nothing extra, where an AbortController per stream would.
   */
  /**
   * `response-budget`: the response has used its byte budget (Lambda's limit on a streamed response,
   * LAMBDA_MAX_RESPONSE_BYTES); the stream then ends like any server-initiated end and the client resumes in a new
   * response. Only the Lambda adapter's sink emits it.
   */
  once(event: 'close' | 'response-budget', listener: () => void): unknown;
}
