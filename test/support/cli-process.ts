import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built `sse-relay` bin; jest's globalSetup builds dist/ before every run. */
export const CLI_JS = fileURLToPath(new URL('../../dist/functions/cli.js', import.meta.url));

/** What a finished CLI run printed and its exit code. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI process still running (tail), with its output so far. */
export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves when it exits by itself. */
  done: Promise<CliResult>;
}

/**
 * Runs `node dist/functions/cli.js …args` with `env` on top of a clean environment (no SSE_RELAY_TOKEN or
 * AUTH_JWT_SECRET leaking in from the test's own), writing `input` to its stdin and closing it (`null`: stdin stays
 * open for the test to write). Killed after `timeoutMs` (default 20 s).
 */
export function startCli(args: readonly string[], env: Record<string, string> = {}, input: string | null = '', timeoutMs = 20_000): RunningCli {
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: run \`npm run build\``);
  const base = { ...process.env };
  delete base.SSE_RELAY_TOKEN;
  delete base.AUTH_JWT_SECRET;
  const child = spawn(process.execPath, [CLI_JS, ...args], { env: { ...base, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (input !== null) child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<CliResult>((resolve) => child.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Runs the CLI to its end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}, input = ''): Promise<CliResult> {
  return startCli(args, env, input).done;
}
