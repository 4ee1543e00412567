import { startFunctionUrl, ThrottledError, type InvokeMode } from './function-url.js';
import type { Invocation } from './invocation.js';
import { ricCliPath, Sandbox } from './sandbox.js';

export { ThrottledError } from './function-url.js';
export type { FunctionError, Invocation, InvocationEnd, InvocationResponse } from './invocation.js';

/** A function to run under the real aws-lambda-ric, as serverless.yml would configure it. */
export interface LambdaFunctionOptions {
  /** Directory holding the handler module (an ESM bundle or compiled JS); LAMBDA_TASK_ROOT. */
  taskRoot: string;
  /** `file.export`, e.g. `stream.handler` for `<taskRoot>/stream.mjs` (or `.js`/`.cjs`). */
  handler: string;
  /** The function's environment variables. Default: none beyond what Lambda sets. */
  env?: Record<string, string>;
  /** Function timeout (ms); the deadline the handler sees is enqueue time + this. Default 10000. */
  timeoutMs?: number;
  /** Function URL invoke mode: 'stream' = RESPONSE_STREAM, 'buffered' = BUFFERED. Default 'stream'. */
  mode?: InvokeMode;
  /** The function URL holds streamed bytes until this many wait (a URL that holds small writes). Default 0 = off. */
  holdBelowBytes?: number;
  /** Most sandboxes (concurrent invocations) started on demand; beyond it the URL answers 429. Default 4. */
  maxConcurrency?: number;
  /** AWS_LAMBDA_FUNCTION_NAME. Default 'sse-relay-test'. */
  functionName?: string;
  /** AWS_REGION. Default 'us-east-1'. */
  region?: string;
  /** Freeze each sandbox between invocations, as Lambda does (see SandboxOptions.freeze). Default true. */
  freeze?: boolean;
  /** Also write each sandbox's stdout and stderr here as they come (see SandboxOptions.echo). Default: kept only. */
  echo?: NodeJS.WritableStream;
}

/** Per-call overrides for `invoke`. */
export interface InvokeOptions {
  /** Default: the function's timeoutMs. */
  timeoutMs?: number;
}

export interface LambdaFunction {
  /** Base URL of the function-URL front end, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Invokes directly with any event (e.g. an SQS batch), bypassing the function URL. */
  invoke(event: unknown, options?: InvokeOptions): Promise<Invocation>;
  /** ms from spawn to handler module loaded, one entry per sandbox started so far. */
  coldStartsMs(): number[];
  /** Process ids of the live sandboxes' runtimes. */
  pids(): number[];
  /** stdout + stderr of every sandbox (tails), for failure messages. */
  logs(): string;
  /** Kills every runtime process (by pid) and closes the servers. */
  stop(): Promise<void>;
}

/**
 * Runs a handler under aws-lambda-ric behind a local Runtime API and function URL. Sandboxes start
 * on demand (the first request pays the cold start), one invocation each at a time, like Lambda.
 * Throws at once, with the install command, if aws-lambda-ric's native part is not built.
 */
export async function startLambdaFunction(options: LambdaFunctionOptions): Promise<LambdaFunction> {
  ricCliPath();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxConcurrency = options.maxConcurrency ?? 4;
  const sandboxOptions = {
    taskRoot: options.taskRoot,
    handler: options.handler,
    env: options.env ?? {},
    functionName: options.functionName ?? 'sse-relay-test',
    region: options.region ?? 'us-east-1',
    freeze: options.freeze ?? true,
    echo: options.echo,
  };
  const sandboxes: Sandbox[] = [];
  const retired: Sandbox[] = [];

  let starting = 0;

  // Picking an idle sandbox and handing it the event happen in one synchronous step, so two
  // concurrent requests never share a sandbox.
  async function invoke(event: unknown, invokeOptions?: InvokeOptions): Promise<Invocation> {
    const invocationTimeoutMs = invokeOptions?.timeoutMs ?? timeoutMs;
    for (const dead of sandboxes.filter((s) => s.dead)) {
      sandboxes.splice(sandboxes.indexOf(dead), 1);
      retired.push(dead);
    }
    const idle = sandboxes.find((s) => s.idle);
    if (idle) return idle.invoke(event, invocationTimeoutMs);
    if (sandboxes.length + starting >= maxConcurrency) throw new ThrottledError(`all ${maxConcurrency} sandboxes are busy`);
    starting += 1;
    try {
      const sandbox = await Sandbox.start(sandboxOptions);
      sandboxes.push(sandbox);
      return sandbox.invoke(event, invocationTimeoutMs);
    } finally {
      starting -= 1;
    }
  }

  const front = await startFunctionUrl({ invoke, mode: options.mode ?? 'stream', holdBelowBytes: options.holdBelowBytes ?? 0 });
  const all = (): Sandbox[] => [...retired, ...sandboxes];
  return {
    url: front.url,
    invoke,
    coldStartsMs: () => all().flatMap((s) => (s.readyMs === undefined ? [] : [s.readyMs])),
    pids: () => sandboxes.filter((s) => !s.dead).flatMap((s) => (s.pid === undefined ? [] : [s.pid])),
    logs: () => all().map((s, i) => `--- sandbox ${i} ---\n${s.logs()}`).join('\n'),
    stop: async () => {
      await Promise.all(all().map((s) => s.kill()));
      await front.close();
    },
  };
}
