import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// `npm run test:unit` runs test/core/ (jest.unit.config.js) without a build, and promises no server and no child
// process. This keeps the promise: no suite there, nor a test helper it imports, may reach for a socket, a process,
// a real client of Redis/SQS/a browser, or a composition root in functions/ (those start servers).

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CORE = join(ROOT, 'test/core');
const FORBIDDEN = [
  /^node:(child_process|cluster|dgram|http|http2|https|net|tls|worker_threads)$/,
  /^(child_process|http|https|net)$/,
  /^(ioredis|fauxqs|playwright-core|eventsource|aws-lambda-ric)$/,
  /^@aws-sdk\//,
  /(^|\/)functions\//,
];

/** Every module specifier a file imports, statically or with import(). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] as string);
}

/** The file and every test/ helper it reaches through relative imports, with what each imports. */
function reach(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    const found = specifiers(file);
    seen.set(file, found);
    for (const spec of found) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (spec.startsWith('.') && target.startsWith(join(ROOT, 'test'))) visit(target);
    }
  };
  visit(entry);
  return seen;
}

describe('the unit run (test/core/)', () => {
  const suites = readdirSync(CORE).filter((name) => name.endsWith('.test.ts'));

  it('holds suites', () => {
    expect(suites.length).toBeGreaterThan(5);
  });

  it.each(suites)('%s starts no server and no process', (name) => {
    const offending: string[] = [];
    for (const [file, found] of reach(join(CORE, name))) {
      for (const spec of found) if (FORBIDDEN.some((rule) => rule.test(spec))) offending.push(`${relative(ROOT, file)} imports ${spec}`);
    }
    // Move a suite that needs one of these out of test/core/ (to the folder of what it tests): it runs in `npm test`.
    expect(offending).toEqual([]);
  });
});
