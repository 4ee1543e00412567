import { expect, test } from '@jest/globals';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

// Module names below are data, not imports of this suite (it runs in `npm run test:unit`).
// The lint rule that keeps the core runtime-free (eslint.config.js): a transport or SDK import in lib/ outside
// adapters/ and sources/ is an error, whichever way the module is spelt. Linted as text under a core path; nothing is
// written to disk.

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const eslint = new ESLint({ cwd: repo });

/** Whether linting `import x from '<module>'` as `file` reports the restricted-import rule. */
async function restricted(module: string, file: string): Promise<boolean> {
  const source = ['import x from ', `'${module}'`, ';\nexport const used = [x];\n'].join('');
  const [result] = await eslint.lintText(source, { filePath: join(repo, file) });
  return (result?.messages ?? []).some((m) => m.ruleId === 'no-restricted-imports');
}

test('every spelling of a transport or SDK module is refused in the core, and allowed in adapters and sources', async () => {
  const spellings = ['node:http', 'http', 'node:https', 'https', 'node:http2', 'http2', 'node:net', 'net', 'ioredis', '@aws-sdk/client-sqs', 'prom-client'];
  const passed: string[] = [];
  for (const module of spellings) {
    if (!(await restricted(module, 'lib/engine/probe.ts'))) passed.push(module);
  }
  expect(passed).toEqual([]);
  expect(await restricted(spellings[0] as string, 'lib/adapters/probe.ts')).toBe(false);
  expect(await restricted(spellings[8] as string, 'lib/sources/redis/probe.ts')).toBe(false);
  // What the core may use stays allowed.
  expect(await restricted('node:crypto', 'lib/engine/probe.ts')).toBe(false);
}, 60_000);

test('only functions/ reads process.env: lib/ and publisher/ get their settings as arguments', async () => {
  const reads = async (file: string): Promise<boolean> => {
    const [result] = await eslint.lintText('export const port = process.env.PORT;\nexport const all = process.env;\n', { filePath: join(repo, file) });
    return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-properties').length === 2;
  };
  expect(await reads('lib/engine/probe.ts')).toBe(true);
  expect(await reads('lib/adapters/probe.ts')).toBe(true);
  expect(await reads('publisher/probe.ts')).toBe(true);
  expect(await reads('functions/probe.ts')).toBe(false);
}, 60_000);
