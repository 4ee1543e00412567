import { expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// dist/ is built by jest's globalSetup; the child runs the logger functions/ builds, as the server and Lambda do.
const LOGGER_JS = fileURLToPath(new URL('../../dist/functions/logger.js', import.meta.url));
const LINES = 2_000;

/**
 * Runs a process that logs LINES lines of ~200 bytes (400 KB, several times a pipe's buffer) to its stdout pipe and
 * exits at once; its parent reads nothing for the first 300 ms. Resolves with every line the parent received.
 */
function logThenExit(): Promise<string[]> {
  const script = `import(${JSON.stringify(LOGGER_JS)}).then(({ createLogger }) => {
    const logger = createLogger('info');
    for (let i = 0; i < ${LINES}; i++) logger.info({ i, pad: 'x'.repeat(150) }, 'line');
    process.exit(0);
  })`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.pause();
  setTimeout(() => child.stdout.resume(), 300);
  let text = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error('the logging child did not exit within 20 s'))), 20_000);
    child.on('close', () => (clearTimeout(timer), resolve(text.split('\n').filter(Boolean))));
  });
}

it('writes every line before process.exit() returns, even when the stdout pipe is full and its reader is slow', async () => {
  const lines = await logThenExit();
  expect(lines).toHaveLength(LINES);
  expect(lines.map((line) => (JSON.parse(line) as { i: number }).i)).toEqual(Array.from({ length: LINES }, (_, i) => i));
});
