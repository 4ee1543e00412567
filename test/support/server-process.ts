import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

/** The compiled container entry point; jest's globalSetup builds dist/ before every run. */
export const SERVER_JS = fileURLToPath(new URL('../../dist/functions/server.js', import.meta.url));

/** A `node dist/functions/server.js` child process this test started. */
export interface ServerProcess {
  /** Loopback port it listens on. */
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  pid: number;
  /** Everything it wrote to stdout and stderr so far (JSON log lines), for failure messages. */
  log(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends a signal to this process (by its pid) and, unless `wait` is false, waits for it to exit. */
  kill(signal?: NodeJS.Signals, wait?: boolean): Promise<void>;
}

/**
 * Starts the real server as a child process on 127.0.0.1 with `AUTH_MODE=none`, no publish rate limit and `env` on top
 * (`PORT` defaults to 0: an ephemeral port). LOG_LEVEL is always `info`: the port is read from the startup log line. Resolves once it logs its port; rejects with its log after `timeoutMs`
 * (default 10000) or if it exits first. `command` is what node runs (default: dist/functions/server.js; the CLI tests
 * pass `dist/functions/cli.js serve`).
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 10_000, command: readonly string[] = [SERVER_JS]): Promise<ServerProcess> {
  if (!existsSync(command[0] ?? SERVER_JS)) throw new Error(`${command[0]} is missing: run \`npm run build\``);
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [...command], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', AUTH_MODE: 'none', PUBLISH_RATE_PER_MINUTE: '0', ...env, LOG_LEVEL: 'info' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end();
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((done) => child.once('exit', (code, signal) => done(code ?? signal ?? 'unknown')));
  const port = await waitFor(() => {
    const match = /"port":(\d+)/.exec(output);
    if (match?.[1] !== undefined) return Number(match[1]);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('the server exited');
    return undefined;
  }, 'the server to log its port', { timeoutMs, everyMs: 25 }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`the server did not start within ${timeoutMs} ms; its output:\n${output}`, { cause: error });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('the server process has no pid');
  const kill = async (signal: NodeJS.Signals = 'SIGKILL', wait = true): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(pid, signal);
    if (wait) await exited;
  };
  return { port, url: `http://127.0.0.1:${port}`, pid, log: () => output, exited, kill };
}
