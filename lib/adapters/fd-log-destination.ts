import { writeSync } from 'node:fs';
import type { LogDestination } from '../logger.js';

/**
 * How long a full pipe may hold up one log line before the line is dropped: whoever reads the logs (the container
 * runtime, Lambda's log agent) is stuck or gone, and a relay that stops serving because its log is not read is worse.
 */
const FULL_PIPE_LIMIT_MS = 1_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Log lines written straight to a file descriptor (1 for stdout, 2 for stderr), each before `write` returns, so the
 * last lines before `process.exit()` are not lost. `process.stdout` does not promise that: its writes to a pipe, which is
 * what a container's or Lambda's stdout is, are asynchronous on POSIX.
 */
export function fdLogDestination(fd: number): LogDestination {
  return { write: (line: string) => writeWhole(fd, Buffer.from(line, 'utf8')) };
}

function writeWhole(fd: number, bytes: Buffer): void {
  let written = 0;
  let waitedMs = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(fd, bytes, written);
    } catch (error) {
      // EAGAIN: the descriptor is non-blocking (another part of the process made it so) and the pipe is full; wait for
      // its reader. Anything else (EPIPE, EBADF) means the log has nowhere to go, and nowhere to say so either.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || waitedMs >= FULL_PIPE_LIMIT_MS) return;
      Atomics.wait(sleeper, 0, 0, 1);
      waitedMs += 1;
    }
  }
}
