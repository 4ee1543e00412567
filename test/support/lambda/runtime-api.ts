import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Invocation, postedError, type FunctionError } from './invocation.js';

const PREFIX = '/2018-06-01/runtime';
const INVOCATION_PATH = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/;

/** Identity the Runtime API hands to the runtime client with every event. */
export interface RuntimeApiOptions {
  /** Sent as Lambda-Runtime-Invoked-Function-Arn. */
  functionArn: string;
  /** Called when the runtime posts `/init/error` (the handler module failed to load). */
  onInitError?: (error: FunctionError) => void;
  /** Called on the runtime's first `/next`: the handler module is loaded (cold start done). */
  onReady?: () => void;
  /** The runtime asked for the next event and none is waiting: where Lambda freezes the sandbox. */
  onIdle?: () => void;
  /** An event is about to be handed to a runtime that waited for it: where Lambda thaws the sandbox. */
  onWork?: () => void;
}

/**
 * A local AWS Lambda Runtime API (the 2018-06-01 interface aws-lambda-ric speaks) on 127.0.0.1.
 * One per sandbox, like the real service. Invocations queue until the runtime long-polls `/next`.
 */
export class RuntimeApi {
  readonly #server: Server;
  readonly #options: RuntimeApiOptions;
  readonly #queue: Invocation[] = [];
  readonly #waiting: ServerResponse[] = [];
  readonly #inFlight = new Map<string, Invocation>();
  #ready = false;

  private constructor(server: Server, options: RuntimeApiOptions) {
    this.#server = server;
    this.#options = options;
  }

  /** Starts the server on an ephemeral loopback port. */
  static async start(options: RuntimeApiOptions): Promise<RuntimeApi> {
    const server = createServer();
    const api = new RuntimeApi(server, options);
    server.on('request', (req, res) => api.#route(req, res));
    // A long SSE /response must not hit Node's 300 s request timeout; keep-alive outlives the
    // runtime's idle gaps so its pooled socket is never reset under it.
    server.requestTimeout = 0;
    server.keepAliveTimeout = 15 * 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  /** `host:port`, the value of AWS_LAMBDA_RUNTIME_API. */
  get address(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `127.0.0.1:${port}`;
  }

  /** Invocations handed out or queued and not finished yet. */
  get pending(): Invocation[] {
    return [...this.#queue, ...this.#inFlight.values()];
  }

  /** Queues an event; its deadline (Lambda-Runtime-Deadline-Ms) is `timeoutMs` after the runtime takes it. */
  enqueue(event: unknown, timeoutMs: number): Invocation {
    const invocation = new Invocation(event, timeoutMs);
    void invocation.done.then(() => this.#inFlight.delete(invocation.requestId));
    const waiter = this.#waiting.shift();
    if (waiter) {
      this.#options.onWork?.();
      this.#handOut(invocation, waiter);
    } else this.#queue.push(invocation);
    return invocation;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) return this.#next(res);
    if (req.method === 'POST' && url === `${PREFIX}/init/error`) return this.#initError(req, res);
    const match = INVOCATION_PATH.exec(url);
    const invocation = match ? this.#inFlight.get(decodeURIComponent(match[1] ?? '')) : undefined;
    if (req.method !== 'POST' || !match || !invocation) {
      req.resume();
      reply(res, match ? 400 : 404, { errorType: 'InvalidRequestID', errorMessage: `no invocation for ${req.method} ${url}` });
      return;
    }
    if (match[2] === 'error') return this.#error(invocation, req, res);
    if (req.headers['lambda-runtime-function-response-mode'] === 'streaming') {
      invocation.acceptStream(req, () => reply(res, 202, { status: 'OK' }));
      return;
    }
    void readText(req).then((raw) => {
      invocation.acceptBuffered(raw, req.headers['content-type'] ?? 'application/json');
      reply(res, 202, { status: 'OK' });
    });
  }

  #next(res: ServerResponse): void {
    if (!this.#ready) {
      this.#ready = true;
      this.#options.onReady?.();
    }
    const invocation = this.#queue.shift();
    if (invocation) return this.#handOut(invocation, res);
    // Long poll: the runtime waits here, as it does on Lambda, until an event arrives.
    this.#waiting.push(res);
    this.#options.onIdle?.();
    res.on('close', () => {
      const at = this.#waiting.indexOf(res);
      if (at >= 0) this.#waiting.splice(at, 1);
    });
  }

  #handOut(invocation: Invocation, res: ServerResponse): void {
    this.#inFlight.set(invocation.requestId, invocation);
    invocation.start();
    const body = JSON.stringify(invocation.event);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'lambda-runtime-aws-request-id': invocation.requestId,
      'lambda-runtime-deadline-ms': String(invocation.deadlineMs),
      'lambda-runtime-invoked-function-arn': this.#options.functionArn,
      'lambda-runtime-trace-id': `Root=1-${invocation.enqueuedAt.toString(16)}-${invocation.requestId.replaceAll('-', '').slice(0, 24)};Sampled=0`,
    });
    res.end(body);
  }

  #error(invocation: Invocation, req: IncomingMessage, res: ServerResponse): void {
    void readText(req).then((raw) => {
      invocation.fail(postedError(raw, header(req, 'lambda-runtime-function-error-type'), 'error'));
      reply(res, 202, { status: 'OK' });
    });
  }

  #initError(req: IncomingMessage, res: ServerResponse): void {
    void readText(req).then((raw) => {
      const error = postedError(raw, header(req, 'lambda-runtime-function-error-type'), 'init-error');
      for (const invocation of this.pending) invocation.fail(error);
      this.#options.onInitError?.(error);
      reply(res, 202, { status: 'OK' });
    });
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
