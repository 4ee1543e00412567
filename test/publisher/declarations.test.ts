import { expect, test } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// What a caller's editor shows: the .d.ts of the publisher (built by jest's globalSetup) and of the browser client.
// Every public function, method and constructor that can throw says what it throws, in a @throws tag.

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The names of declarations in `file` that `wanted` selects and that have no @throws tag in their JSDoc. */
function withoutThrows(file: string, wanted: (node: ts.Node) => string | undefined): { found: string[]; missing: string[] } {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const missing: string[] = [];
  const visit = (node: ts.Node): void => {
    const name = wanted(node);
    if (name !== undefined) {
      found.push(name);
      if (!ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'throws')) missing.push(name);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { found, missing };
}

test('every exported function of sse-relay/publisher, and the Publisher methods that reject, document what they throw', () => {
  const dir = `${root}dist/publisher/`;
  const found: string[] = [];
  const missing: string[] = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.d.ts'))) {
    const result = withoutThrows(`${dir}${file}`, (node) => {
      if (ts.isFunctionDeclaration(node) && node.name !== undefined) return `${file}: ${node.name.text}`;
      if (ts.isMethodSignature(node) && ts.isInterfaceDeclaration(node.parent) && node.parent.name.text === 'Publisher' && /^publish/.test(node.name.getText())) {
        return `${file}: Publisher.${node.name.getText()}`;
      }
      return undefined;
    });
    found.push(...result.found);
    missing.push(...result.missing);
  }
  expect(found).toEqual(expect.arrayContaining(['token.d.ts: signToken', 'token.d.ts: parseTtl', 'http-transport.d.ts: httpTransport', 'redis-transport.d.ts: redisTransport',
    'sqs-transport.d.ts: sqsTransport', 'publisher.d.ts: createPublisher', 'message.d.ts: checkMessage', 'publisher.d.ts: Publisher.publish', 'publisher.d.ts: Publisher.publishBatch']));
  // Internal helpers (options.ts, deadline.ts, http-options.ts) are not exported by index.ts.
  const exported = readFileSync(`${dir}index.d.ts`, 'utf8');
  expect(missing.filter((name) => exported.includes(name.split(': ')[1]?.split('.')[0] ?? '?'))).toEqual([]);
});

test('the RelayClient constructor documents its TypeErrors', () => {
  const { found, missing } = withoutThrows(`${root}public/sse-client.d.ts`, (node) => (ts.isConstructorDeclaration(node) ? 'RelayClient constructor' : undefined));
  expect(found).toEqual(['RelayClient constructor']);
  expect(missing).toEqual([]);
});
