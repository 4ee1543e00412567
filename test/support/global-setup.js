import { spawnSync } from 'node:child_process';
import process from 'node:process';

/**
 * Suites that run the server as a real process (signals, exit codes) need dist/; build it once per test run. Type
 * errors do not stop the emit here: `npm test` reports them in its own typecheck step.
 */
export default function globalSetup() {
  spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'ignore' });
}
