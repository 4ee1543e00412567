#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { realpathSync } from 'node:fs';
import { EXIT, UsageError, type Command } from './cli/io.js';
import { publish } from './cli/publish.js';
import { serve } from './cli/serve.js';
import { tail } from './cli/tail.js';
import { token } from './cli/token.js';

/** `sse-relay <command>`: the package's bin. Every command has --help; exit codes are in cli/io.ts (EXIT). */
const COMMANDS: readonly Command[] = [serve, token, publish, tail];

const USAGE = `sse-relay <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)}${c.summary}`).join('\n')}

Run \`sse-relay <command> --help\` for a command's options.
Exit codes: 0 ok, 1 refused by the relay, 2 bad arguments, 3 relay unreachable, 70 internal error,
141 stdout was closed (\`… | head -1\`).`;

/** Runs one command line (without `node` and the script) and resolves with the exit code. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`sse-relay: unknown command ${JSON.stringify(name)}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(args, env);
  } catch (error) {
    // parseArgs throws TypeErrors with an ERR_PARSE_ARGS_* code for unknown or malformed options.
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`sse-relay ${command.name}: ${(error as Error).message}\n\n${command.usage}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

/**
 * Node ignores SIGPIPE, so a write to a pipe whose reader is gone (`sse-relay tail … | head -1`) fails with EPIPE as an
 * 'error' event, which unhandled printed a stack and exited 1. The reader leaving is an ordinary end in a pipeline: stop
 * at once and quietly, as a Unix tool killed by SIGPIPE does (141). Any other stream error is still a bug.
 */
function exitWhenOutputCloses(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(EXIT.outputClosed);
  });
}

// Run when executed (also through npm's bin symlink, hence realpath), not when imported.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  exitWhenOutputCloses(process.stdout);
  exitWhenOutputCloses(process.stderr);
  runCli(process.argv.slice(2), process.env).then(
    (code) => {
      // serve never resolves; every other command ends here. Let stdout drain before exiting.
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error('sse-relay: unexpected error:', error);
      process.exit(EXIT.internal);
    },
  );
}
