import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Invocation } from './invocation.js';
import { RuntimeApi } from './runtime-api.js';

const INSTALL_HINT = 'aws-lambda-ric is not built: apt-get install -y autoconf automake libtool cmake make g++ && npm install';
/** Lambda's limit on a sandbox's init phase, ms. */
const INIT_TIMEOUT_MS = 10_000;
/** Keep only the tail of the function's output for failure messages (characters). */
const MAX_LOG_CHARS = 32 * 1024;

/** What one execution environment runs: a task root, a handler string and the function's env. */
export interface SandboxOptions {
  /** Directory holding the handler module (LAMBDA_TASK_ROOT, the child's cwd). */
  taskRoot: string;
  /** `file.export` as in Lambda's `Handler` setting, resolved against taskRoot. */
  handler: string;
  /** Variables of the function; Lambda's own (AWS_REGION, _HANDLER…) are set unless given here. */
  env: Record<string, string>;
  functionName: string;
  region: string;
  /**
   * Freeze the runtime (SIGSTOP) while it waits for its next event, and thaw it (SIGCONT) when one comes, as Lambda
   * does: timers stop, and what arrives on its sockets waits in the kernel. Default false.
   */
  freeze?: boolean | undefined;
  /** Where the function's stdout and stderr go as they come, besides the kept tail (`npm run dev:lambda`: the terminal, as CloudWatch Logs would show them). */
  echo?: NodeJS.WritableStream | undefined;
}

/** Absolute path of the aws-lambda-ric CLI; throws the install command if the native part is missing. */
export function ricCliPath(): string {
  let root: string;
  try {
    root = dirname(createRequire(import.meta.url).resolve('aws-lambda-ric/package.json'));
  } catch {
    throw new Error(INSTALL_HINT);
  }
  if (!existsSync(join(root, 'dist', 'rapid-client.node'))) throw new Error(INSTALL_HINT);
  return join(root, 'bin', 'index.mjs');
}

/**
 * One Lambda execution environment: a Runtime API plus an aws-lambda-ric child process. It runs
 * one invocation at a time and enforces the deadline the way Lambda does: it kills the process.
 */
export class Sandbox {
  readonly spawnedAt = Date.now();
  /** ms from spawn to the runtime's first `/next` (module loaded), once known. */
  readyMs: number | undefined;
  #child!: ChildProcess;
  #api!: RuntimeApi;
  #logs = '';
  #current: Invocation | undefined;
  #dead = false;

  private constructor() {}

  static async start(options: SandboxOptions): Promise<Sandbox> {
    const cli = ricCliPath();
    const sandbox = new Sandbox();
    const functionArn = `arn:aws:lambda:${options.region}:000000000000:function:${options.functionName}`;
    sandbox.#api = await RuntimeApi.start({
      functionArn,
      onReady: () => { sandbox.readyMs = Date.now() - sandbox.spawnedAt; },
      onInitError: () => { sandbox.#dead = true; },
      ...(options.freeze === true ? { onIdle: () => sandbox.#signal('SIGSTOP'), onWork: () => sandbox.#signal('SIGCONT') } : {}),
    });
    sandbox.#child = spawn(process.execPath, [cli, options.handler], {
      cwd: options.taskRoot,
      env: lambdaEnv(options, sandbox.#api.address),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    sandbox.#child.stdout?.on('data', (chunk: Buffer) => sandbox.#log(chunk, options.echo));
    sandbox.#child.stderr?.on('data', (chunk: Buffer) => sandbox.#log(chunk, options.echo));
    sandbox.#child.on('exit', (code, signal) => sandbox.#onExit(code, signal));
    return sandbox;
  }

  /** False while an invocation runs, and forever once the process died or was killed. */
  get idle(): boolean {
    return !this.#dead && (this.#current === undefined || this.#current.finished);
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** Process id of the runtime (aws-lambda-ric), e.g. to read its memory from /proc. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The function's stdout and stderr so far (its tail), for failure messages. */
  logs(): string {
    return this.#logs;
  }

  /**
   * Hands one event to the runtime; `timeoutMs` after the runtime took it the invocation fails and the process is
   * killed. As on Lambda, a cold sandbox's init (spawn, module load) does not count against the function timeout.
   */
  invoke(event: unknown, timeoutMs: number): Invocation {
    const invocation = this.#api.enqueue(event, timeoutMs);
    this.#current = invocation;
    // Lambda gives a cold sandbox's init 10 s of its own; a runtime that never asks for the event is killed after that.
    const init = setTimeout(() => {
      invocation.fail({ errorType: 'Sandbox.InitTimedout', errorMessage: 'the runtime did not take the event within 10 s of init', source: 'timeout' });
      this.kill();
    }, INIT_TIMEOUT_MS);
    init.unref();
    void invocation.done.then(() => clearTimeout(init));
    void invocation.started.then(() => {
      clearTimeout(init);
      if (invocation.finished) return;
      const timer = setTimeout(() => {
        invocation.fail({ errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`, source: 'timeout' });
        this.kill();
      }, timeoutMs);
      timer.unref();
      void invocation.done.then(() => clearTimeout(timer));
    });
    return invocation;
  }

  /** Kills the runtime process (by pid) and closes the Runtime API. Safe to call twice. */
  kill(): Promise<void> {
    this.#dead = true;
    const pid = this.#child.pid;
    if (pid !== undefined && this.#child.exitCode === null && this.#child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    return this.#api.close();
  }

  #signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = this.#child.pid;
    if (pid === undefined || this.#dead) return;
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }

  #log(chunk: Buffer, echo: NodeJS.WritableStream | undefined): void {
    echo?.write(chunk);
    this.#logs = (this.#logs + chunk.toString('utf8')).slice(-MAX_LOG_CHARS);
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.#dead = true;
    const errorMessage = `aws-lambda-ric exited (code ${code}, signal ${signal}); its output:\n${this.#logs}`;
    for (const invocation of this.#api.pending) invocation.fail({ errorType: 'Runtime.ExitError', errorMessage, source: 'exit' });
    void this.#api.close();
  }
}

/** The environment Lambda gives a Node.js function, plus the function's own variables. */
function lambdaEnv(options: SandboxOptions, runtimeApi: string): Record<string, string> {
  const name = options.functionName;
  return {
    // A clean environment like Lambda's: the test runner's NODE_OPTIONS etc. must not leak in.
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    AWS_LAMBDA_RUNTIME_API: runtimeApi,
    _HANDLER: options.handler,
    LAMBDA_TASK_ROOT: options.taskRoot,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${process.pid}`,
    AWS_REGION: options.region,
    AWS_DEFAULT_REGION: options.region,
    ...options.env,
  };
}
