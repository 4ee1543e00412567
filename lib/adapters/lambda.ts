import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import type { ByteSink } from '../engine/byte-sink.js';
import { errorBodyOf, RelayError } from '../errors.js';
import { INVALID_TARGET_PATH, json, originFormUrl, type BodyResponse, type RelayRequest, type RelayResponse, type RequestHandler } from '../request.js';
import type { Logger } from '../logger.js';
import { FlushPaddingSink } from './flush-padding-sink.js';
import { lambdaRuntime, type LambdaResponseStream, type StreamingHandler } from './lambda-runtime.js';
import { ResponseBudgetSink } from './response-budget-sink.js';

/** What a Lambda handler serves, built once per cold start by functions/ and kept for the sandbox's lifetime. */
export interface LambdaTarget {
  app: RequestHandler;
  logger: Logger;
  /** A stream ends this long before the invocation's deadline, ms (LAMBDA_DEADLINE_MARGIN_MS). */
  deadlineMarginMs: number;
  /** Comment padding after each batch of writes, bytes; 0 = none (FLUSH_PADDING_BYTES). */
  flushPaddingBytes: number;
  /** A stream ends itself after writing this many bytes (LAMBDA_MAX_RESPONSE_BYTES); unset = no budget. */
  maxResponseBytes?: number;
  /** Hears each invocation start and end (log lines tagged with awsRequestId, metrics flushed at the end). */
  invocations?: InvocationObserver;
  /** Awaited after a stream's response ended and before the handler returns (QueueSource.settle): Lambda then freezes. */
  settle?: () => Promise<void>;
  /** Longest `settle` may take, ms (its source's longest read, plus slack): an unreachable source must not hold the sandbox. */
  settleMs?: number;
}

/** What functions/ does around each invocation. */
export interface InvocationObserver {
  started(awsRequestId: string): void;
  finished(): void;
}

// Answered here, not by the app: per-sandbox metrics mean nothing behind a function URL (a request reaches one random
// sandbox) and the URL is public; the counts leave as CloudWatch embedded metrics instead.
const NOT_ON_FUNCTION_URLS = new Set(['/metrics']);

/** What a handler is given by functions/: the target, built once, and where failures go while there is none. */
export interface TargetLoader {
  /** Loads (or returns the already built) target; may reject, e.g. on a configuration error. */
  load(): Promise<LambdaTarget>;
  /**
   * The JSON logger (with its redaction) for failures before a target exists, such as a configuration error at cold
   * start; once there is one, its own logger (tagged with the awsRequestId) is used.
   */
  logger: Logger;
}

const EMPTY = new Uint8Array(0);

/**
 * Translates a function-URL event (payload 2.0) into the core's request. `deadline` = now + remaining time − margin:
 * the session ends itself with a `retry:` before Lambda would kill the invocation. The margin never takes more than
 * half the remaining time, so a function whose timeout is shorter than the margin still streams.
 */
export function toRelayRequest(event: LambdaFunctionURLEvent, context: Pick<Context, 'getRemainingTimeInMillis'>, deadlineMarginMs: number): RelayRequest {
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers.set(name.toLowerCase(), value);
  // A function URL moves the Cookie header into `cookies`.
  if (event.cookies !== undefined && event.cookies.length > 0) headers.set('cookie', event.cookies.join('; '));
  return {
    method: event.requestContext.http.method.toUpperCase(),
    // Read as the container reads its request target, so both runtimes route (and refuse) the same paths alike.
    path: originFormUrl(event.rawPath)?.pathname ?? INVALID_TARGET_PATH,
    query: new URLSearchParams(event.rawQueryString),
    header: (name) => headers.get(name),
    remoteAddress: event.requestContext.http.sourceIp,
    readBody: (limit) => readBody(event, limit),
    deadline: deadlineOf(context.getRemainingTimeInMillis(), deadlineMarginMs),
  };
}

function deadlineOf(remainingMs: number, marginMs: number): number {
  return Date.now() + remainingMs - Math.min(marginMs, Math.floor(remainingMs / 2));
}

function readBody(event: LambdaFunctionURLEvent, limit: number): Promise<Uint8Array> {
  const body = event.body === undefined ? EMPTY : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (body.byteLength > limit) return Promise.reject(new RelayError('body_too_large', `body is larger than MAX_BODY_BYTES (${limit})`));
  return Promise.resolve(body);
}

/**
 * The handler of a RESPONSE_STREAM function URL. Status and headers go out through `HttpResponseStream.from` followed
 * by an immediate write, so the client has its headers before the first event. A stream response runs the same
 * session as the container, with the Lambda response stream as its sink. A failure before the first write answers
 * 500 `{"error":"internal"}`; one after it ends the stream, and EventSource reconnects and resumes from its last id.
 */
export function streamingHandler(loader: TargetLoader): StreamingHandler<LambdaFunctionURLEvent> {
  return lambdaRuntime().streamifyResponse(async (event, responseStream, context) => {
    // The sandbox keeps sockets (Redis, SQS) open between invocations; without this the runtime (aws-lambda-ric 3.3.0,
    // StreamingContext) waits for an empty event loop before asking for the next event, i.e. forever.
    context.callbackWaitsForEmptyEventLoop = false;
    let stream: LambdaResponseStream | undefined;
    let target: LambdaTarget | undefined;
    try {
      target = await loader.load();
      target.invocations?.started(context.awsRequestId);
      const request = toRelayRequest(event, context, target.deadlineMarginMs);
      const response = await answer(target, request);
      stream = open(responseStream, response);
      await writeBody(stream, response, request, target);
    } catch (error) {
      logFailure(loader, target, error, event);
      if (stream === undefined) writeInternalError(responseStream);
      else endQuietly(stream);
    } finally {
      if (target !== undefined) await settle(target, context);
      target?.invocations?.finished();
    }
  });
}

// Left of the invocation's time after settling, ms: the handler must return before Lambda's own deadline kills it.
const SETTLE_RESERVE_MS = 500;

/**
 * Lambda freezes the sandbox once the handler returns, so what the stream gave back to the source (its unacknowledged
 * messages, its last long poll) must reach the source first; bounded by `settleMs` and the invocation's remaining time.
 */
async function settle(target: LambdaTarget, context: Context): Promise<void> {
  if (target.settle === undefined) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const budgetMs = Math.max(0, Math.min(target.settleMs ?? Infinity, context.getRemainingTimeInMillis() - SETTLE_RESERVE_MS));
  const budget = new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs)));
  try {
    await Promise.race([target.settle(), budget]);
  } catch (error) {
    target.logger.warn({ err: error }, 'settling the source before the sandbox freezes failed; what it held comes back after its visibility timeout');
  } finally {
    clearTimeout(timer);
  }
}

// The one error path of both handlers: the JSON logger (the target's, else the loader's), so its redaction applies.
function logFailure(loader: TargetLoader, target: LambdaTarget | undefined, error: unknown, event: LambdaFunctionURLEvent): void {
  (target?.logger ?? loader.logger).error({ err: error, path: event.rawPath, ready: target !== undefined }, 'lambda handler failed');
}

function answer(target: LambdaTarget, request: RelayRequest): Promise<RelayResponse> {
  if (NOT_ON_FUNCTION_URLS.has(request.path)) return Promise.resolve(json(404, errorBodyOf('not_found')));
  return target.app.handle(request);
}

function open(responseStream: LambdaResponseStream, response: RelayResponse): LambdaResponseStream {
  const stream = lambdaRuntime().HttpResponseStream.from(responseStream, { statusCode: response.status, headers: response.headers });
  // The runtime sends the prelude (status, headers) with the first write only, so write at once
  // (aws-lambda-ric 3.3.0; aws-lambda-nodejs-runtime-interface-client#95).
  stream.write(EMPTY);
  return stream;
}

async function writeBody(stream: LambdaResponseStream, response: RelayResponse, request: RelayRequest, target: LambdaTarget): Promise<void> {
  if (response.kind === 'body') {
    if (request.method !== 'HEAD') stream.write(response.body);
    stream.end();
    return;
  }
  // The budget counts what reaches the response, padding included.
  let sink: ByteSink = target.maxResponseBytes === undefined ? stream : new ResponseBudgetSink(stream, target.maxResponseBytes);
  if (target.flushPaddingBytes > 0) sink = new FlushPaddingSink(sink, target.flushPaddingBytes);
  // Lambda never reports a client that went away: the deadline and the idle budget end streams.
  await response.run(sink);
  if (!stream.writableEnded) stream.end();
}

function writeInternalError(responseStream: LambdaResponseStream): void {
  const response = json(500, errorBodyOf('internal'));
  const stream = lambdaRuntime().HttpResponseStream.from(responseStream, { statusCode: response.status, headers: response.headers });
  stream.write(response.body);
  stream.end();
}

function endQuietly(stream: LambdaResponseStream): void {
  try {
    if (!stream.writableEnded) stream.end();
  } catch {
    // The stream is already broken; the runtime reports the invocation's end either way.
  }
}

/** The handler of a BUFFERED function URL: the whole response as a payload-2.0 result. */
export function bufferedHandler(loader: TargetLoader): (event: LambdaFunctionURLEvent, context: Context) => Promise<LambdaFunctionURLResult> {
  return async (event, context) => {
    context.callbackWaitsForEmptyEventLoop = false;
    let response: BodyResponse;
    let target: LambdaTarget | undefined;
    try {
      target = await loader.load();
      target.invocations?.started(context.awsRequestId);
      response = await answerBuffered(target, event, context);
    } catch (error) {
      logFailure(loader, target, error, event);
      response = json(500, errorBodyOf('internal'));
    } finally {
      target?.invocations?.finished();
    }
    const binary = typeof response.body !== 'string';
    return {
      statusCode: response.status,
      headers: response.headers,
      body: binary ? Buffer.from(response.body).toString('base64') : (response.body as string),
      isBase64Encoded: binary,
    };
  };
}

// A buffered URL cannot carry a stream: /events belongs on the streaming function.
async function answerBuffered(target: LambdaTarget, event: LambdaFunctionURLEvent, context: Context): Promise<BodyResponse> {
  if (event.rawPath === '/events') return json(404, errorBodyOf('not_found'));
  const response = await answer(target, toRelayRequest(event, context, target.deadlineMarginMs));
  if (response.kind === 'body') return response;
  // Only a route that streams can do this, and /events is refused above: a new streaming route must be added there too.
  throw new RelayError('internal', `${event.rawPath} answered with a stream on a buffered function URL; serve it from the streaming function (functions/stream.ts) and refuse it in answerBuffered`);
}
