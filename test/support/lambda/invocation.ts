import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { PRELUDE_CONTENT_TYPE, PreludeSplitter, type HttpPrelude } from './prelude-splitter.js';

/** Where a failure was reported: a streaming trailer, `/error`, `/init/error`, or the harness itself. */
export type FunctionErrorSource = 'trailer' | 'error' | 'init-error' | 'timeout' | 'exit' | 'harness';

/** An error as the runtime reported it (`errorType` like `Error` or `Runtime.ImportModuleError`). */
export interface FunctionError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
  source: FunctionErrorSource;
}

/** What the function answered, known as soon as the status line is (before any body byte). */
export type InvocationResponse =
  | { kind: 'stream'; prelude: HttpPrelude | undefined; contentType: string; body: Readable }
  | { kind: 'buffered'; payload: unknown; contentType: string }
  | { kind: 'error'; error: FunctionError };

/** How the invocation ended. `error` is set for a thrown handler, a mid-stream failure or a timeout. */
export interface InvocationEnd {
  error: FunctionError | undefined;
  /** From enqueue to the end of the `/response` or `/error` post (ms). */
  durationMs: number;
}

const TRAILER_ERROR_TYPE = 'lambda-runtime-function-error-type';
const TRAILER_ERROR_BODY = 'lambda-runtime-function-error-body';

/** One event handed to the runtime client, and what came back for it. */
export class Invocation {
  readonly requestId = randomUUID();
  readonly enqueuedAt = Date.now();
  /** Resolves once the status is known; never rejects. */
  readonly response: Promise<InvocationResponse>;
  /** Resolves when the runtime finished the invocation (or it failed); never rejects. */
  readonly done: Promise<InvocationEnd>;
  #respond!: (response: InvocationResponse) => void;
  #finish!: (end: InvocationEnd) => void;
  #finished = false;

  /** Absolute epoch ms sent as Lambda-Runtime-Deadline-Ms; set when the runtime takes the event (see start()). */
  deadlineMs = Number.NaN;
  /** Resolves when the runtime took the event: the function timeout runs from then, as on Lambda (init is not in it). */
  readonly started: Promise<void>;
  #markStarted!: () => void;

  /** @param timeoutMs the function timeout, ms, counted from the moment the runtime takes the event. */
  constructor(readonly event: unknown, readonly timeoutMs: number) {
    this.started = new Promise((resolve) => { this.#markStarted = resolve; });
    this.response = new Promise((resolve) => { this.#respond = resolve; });
    this.done = new Promise((resolve) => { this.#finish = resolve; });
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** The runtime takes the event now: its deadline is now + timeout. */
  start(): void {
    this.deadlineMs = Date.now() + this.timeoutMs;
    this.#markStarted();
  }

  /** Takes a streamed `/response` POST; `reply` answers the runtime once the body and trailers are in. */
  acceptStream(req: IncomingMessage, reply: () => void): void {
    const contentType = req.headers['content-type'] ?? 'application/octet-stream';
    const body = new PreludeSplitter(contentType === PRELUDE_CONTENT_TYPE);
    if (body.preludeSeen) this.#respond({ kind: 'stream', prelude: undefined, contentType, body });
    body.once('prelude', (prelude: HttpPrelude) => this.#respond({ kind: 'stream', prelude, contentType, body }));
    body.on('error', (error) => this.fail(harnessError(`bad streamed response: ${error.message}`)));
    // end:false — the trailers are only readable at 'end', and they decide how the stream ended.
    req.pipe(body, { end: false });
    req.on('end', () => {
      const error = trailerError(req.trailers);
      if (!body.preludeSeen) this.#respond({ kind: 'error', error: error ?? missingPreludeError() });
      body.end();
      this.#end(error);
      reply();
    });
    req.on('close', () => {
      if (req.complete) return;
      body.destroy(new Error('the runtime connection closed mid-stream'));
      this.fail({ errorType: 'Runtime.ExitError', errorMessage: 'the runtime connection closed mid-stream', source: 'exit' });
    });
  }

  /** Takes a buffered `/response` POST (the handler's return value as JSON). */
  acceptBuffered(raw: string, contentType: string): void {
    let payload: unknown = raw;
    try {
      payload = JSON.parse(raw);
    } catch {
      // Not JSON: hand the text over as is.
    }
    this.#respond({ kind: 'buffered', payload, contentType });
    this.#end(undefined);
  }

  /** Ends the invocation with an error (`/error`, init error, timeout, crash). Later calls are ignored. */
  fail(error: FunctionError): void {
    this.#respond({ kind: 'error', error });
    this.#end(error);
  }

  #end(error: FunctionError | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#finish({ error, durationMs: Date.now() - this.enqueuedAt });
  }
}

/** Reads the error the runtime reports in HTTP trailers when a streaming handler fails. */
function trailerError(trailers: NodeJS.Dict<string>): FunctionError | undefined {
  const errorType = trailers[TRAILER_ERROR_TYPE];
  if (errorType === undefined) return undefined;
  const encoded = trailers[TRAILER_ERROR_BODY] ?? '';
  try {
    const body = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as Partial<FunctionError>;
    return { errorType, errorMessage: String(body.errorMessage ?? ''), trace: body.trace ?? [], source: 'trailer' };
  } catch {
    return { errorType, errorMessage: encoded, source: 'trailer' };
  }
}

/** Parses the JSON body of an `/error` or `/init/error` post. */
export function postedError(raw: string, headerType: string | undefined, source: FunctionErrorSource): FunctionError {
  try {
    const body = JSON.parse(raw) as Partial<FunctionError>;
    const errorType = String(body.errorType ?? headerType ?? 'Unknown');
    return { errorType, errorMessage: String(body.errorMessage ?? ''), trace: body.trace ?? [], source };
  } catch {
    return { errorType: headerType ?? 'Unknown', errorMessage: raw, source };
  }
}

export function harnessError(errorMessage: string): FunctionError {
  return { errorType: 'Harness.Error', errorMessage, source: 'harness' };
}

// aws-lambda-ric 3.3.0 writes the prelude on the first write() only, so end() without a write
// sends none and a real function URL hangs (aws-lambda-nodejs-runtime-interface-client#95).
function missingPreludeError(): FunctionError {
  return harnessError('the handler called HttpResponseStream.from() but ended the stream without any write(), '
    + 'so no prelude was sent (a real function URL hangs here): write at least once, e.g. an empty string');
}
