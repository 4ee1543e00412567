import type { Context } from 'aws-lambda';
import type { Writable } from 'node:stream';

/** Status line and headers sent ahead of a streamed body (the function URL's "prelude"). */
export interface HttpPrelude {
  statusCode: number;
  headers: Record<string, string>;
}

/** The Writable aws-lambda-ric hands a streaming handler; the body of the function-URL response. */
export type LambdaResponseStream = Writable;

/** A handler wrapped by `awslambda.streamifyResponse`. */
export type StreamingHandler<TEvent> = (event: TEvent, responseStream: LambdaResponseStream, context: Context) => Promise<void>;

/** The part of the `awslambda` global (defined by the Node.js runtime before it loads the handler) that we use. */
export interface LambdaStreamingRuntime {
  streamifyResponse<TEvent>(handler: StreamingHandler<TEvent>): StreamingHandler<TEvent>;
  HttpResponseStream: {
    /** Sets the prelude content type; the runtime writes the prelude (JSON + 8 NUL bytes) before the first write. */
    from(stream: LambdaResponseStream, prelude: HttpPrelude): LambdaResponseStream;
  };
}

const PRELUDE_DELIMITER = new Uint8Array(8);

/**
 * Stands in for the runtime's global outside Lambda (unit tests, tools that import the handler module): the handler is
 * returned as is and the prelude is written into the stream in the function URL's wire form, so what a test reads back
 * is what a function URL would parse.
 */
const localRuntime: LambdaStreamingRuntime = {
  streamifyResponse: (handler) => handler,
  HttpResponseStream: {
    from(stream, prelude) {
      stream.write(JSON.stringify(prelude));
      stream.write(PRELUDE_DELIMITER);
      return stream;
    },
  },
};

/** `globalThis.awslambda` when running under a Lambda Node.js runtime, else a local stand-in with the same wire format. */
export function lambdaRuntime(): LambdaStreamingRuntime {
  // Through unknown: @types/aws-lambda declares its own (narrower) `awslambda` namespace on the global scope. The global
  // alone proves nothing: the AWS SDK's invoke store creates `awslambda = { InvokeStore }` wherever it loads.
  const global = (globalThis as unknown as { awslambda?: Partial<LambdaStreamingRuntime> }).awslambda;
  return typeof global?.streamifyResponse === 'function' && typeof global.HttpResponseStream?.from === 'function'
    ? global as LambdaStreamingRuntime
    : localRuntime;
}
