import { Transform, type TransformCallback } from 'node:stream';

/** Content type aws-lambda-ric sets once `awslambda.HttpResponseStream.from()` wrapped the stream. */
export const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

/** Status line and headers a streaming handler passed to `HttpResponseStream.from()`. */
export interface HttpPrelude {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

/** The prelude is JSON, which never holds a raw NUL, so 8 NULs mark its end unambiguously. */
const DELIMITER = Buffer.alloc(8);
/** A prelude larger than this is a handler bug, not a header set (bytes). */
const MAX_PRELUDE_BYTES = 64 * 1024;

/**
 * Passes the body of a streamed `/response` through, byte for byte and without buffering, after
 * cutting off the JSON prelude + 8 NUL bytes that precede it. Emits `prelude` (HttpPrelude) once.
 */
export class PreludeSplitter extends Transform {
  #pending: Buffer | undefined;
  #seen = false;

  /** @param expectPrelude false when the handler did not call `HttpResponseStream.from()`. */
  constructor(expectPrelude: boolean) {
    super();
    this.#pending = expectPrelude ? Buffer.alloc(0) : undefined;
  }

  /** True once the prelude was cut off (or when none was expected). */
  get preludeSeen(): boolean {
    return this.#seen || this.#pending === undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#pending === undefined) {
      callback(null, chunk);
      return;
    }
    const pending = Buffer.concat([this.#pending, chunk]);
    const at = pending.indexOf(DELIMITER);
    if (at < 0) {
      this.#pending = pending;
      const tooLong = pending.length > MAX_PRELUDE_BYTES;
      callback(tooLong ? new Error(`response prelude exceeds ${MAX_PRELUDE_BYTES} bytes without its 8-NUL delimiter`) : null);
      return;
    }
    let prelude: HttpPrelude;
    try {
      prelude = JSON.parse(pending.subarray(0, at).toString('utf8')) as HttpPrelude;
    } catch (error) {
      callback(new Error('response prelude is not valid JSON', { cause: error }));
      return;
    }
    this.#pending = undefined;
    this.#seen = true;
    this.emit('prelude', prelude);
    const rest = pending.subarray(at + DELIMITER.length);
    callback(null, rest.length > 0 ? rest : undefined);
  }
}
