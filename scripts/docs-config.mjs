// npm run docs:config: writes the README's configuration table from lib/config's defaults objects (each variable's
// default and one-line meaning live there, once). test/core/readme.test.ts fails when the README and the code differ.
// lib/config is bundled with esbuild so plain node can run it without a TypeScript loader.
/* global process, URL */
import { build } from 'esbuild';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}.esbuild/docs-config/readme-table.mjs`;
await build({
  absWorkingDir: root, entryPoints: ['lib/config/readme-table.ts'], outfile, bundle: true, platform: 'node', format: 'esm',
  target: 'node20', packages: 'external', logLevel: 'warning',
});
const { renderConfigTable } = await import(`${outfile}?${Date.now()}`);

const readmePath = `${root}README.md`;
const readme = await readFile(readmePath, 'utf8');
const section = readme.indexOf('\n## Configuration\n');
const start = readme.indexOf('\n|', section) + 1;
let end = start;
while (readme.startsWith('|', end)) end = readme.indexOf('\n', end) + 1;
if (section < 0 || start <= section || end <= start) {
  process.stderr.write('docs:config: no table found under "## Configuration" in README.md\n');
  process.exit(1);
}
const next = `${readme.slice(0, start)}${renderConfigTable()}\n${readme.slice(end)}`;
if (next === readme) {
  process.stdout.write('README.md configuration table is up to date\n');
} else {
  await writeFile(readmePath, next);
  process.stdout.write('README.md configuration table rewritten from lib/config/defaults.ts\n');
}
