import { expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

// What `npm pack` would publish: the browser client with its types, the publisher, the CLI and the server; no tests,
// fixtures, benchmarks or source maps. And every `exports`/`bin` target is in the package and loads in Node.

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  private?: boolean;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
};

async function packedFiles(): Promise<string[]> {
  // dist/ is built by jest's globalSetup; --ignore-scripts skips the prepack build here.
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
  const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
  return (pack?.files ?? []).map((f) => f.path);
}

test('npm pack lists the client, its types, the publisher, the CLI and the server, and nothing of the tests', async () => {
  const files = await packedFiles();
  for (const required of ['public/sse-client.js', 'public/sse-client.d.ts', 'public/sse-parser.js', 'dist/publisher/index.js',
    'dist/publisher/index.d.ts', 'dist/functions/cli.js', 'dist/functions/server.js', 'dist/functions/server.d.ts', 'README.md']) {
    expect(files).toContain(required);
  }
  expect(files.filter((f) => /(^|\/)(test|tests|fixtures|bench|k8s|nginx|scripts)\/|\.test\.|\.map$|^\.|^tsconfig|^jest|^eslint/.test(f))).toEqual([]);
  expect(manifest.private).toBeUndefined();
  const targets = [...Object.values(manifest.bin), ...Object.values(manifest.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)))];
  for (const target of targets) expect(files).toContain(target.replace(/^\.\//, ''));
  expect(Object.keys(manifest.exports).sort()).toEqual(['.', './client', './package.json', './publisher']);
  expect(Object.keys(manifest.bin)).toEqual(['sse-relay']);
}, 30_000);

test('the exports load by package name in Node', async () => {
  const script = `const c = await import('sse-relay/client'); const p = await import('sse-relay/publisher'); const s = await import('sse-relay');
    console.log(JSON.stringify([typeof c.RelayClient, typeof p.createPublisher, typeof p.httpTransport, typeof p.redisTransport, typeof p.sqsTransport, typeof p.signToken, typeof s.startServer]));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
  expect(JSON.parse(stdout)).toEqual(Array(7).fill('function'));
}, 30_000);
