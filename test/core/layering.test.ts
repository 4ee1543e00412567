import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The floors of lib/, top to bottom (docs/architecture.md draws them). A part may import only from a floor below
 * its own; lib/ never imports functions/ or publisher/. Parts are lib/'s folders (each source its own part) and the
 * files left at lib/'s root.
 */
const FLOORS: readonly (readonly string[])[] = [
  ['http'],
  ['config', 'adapters', 'auth'],
  ['request'],
  ['engine', 'sources', 'sources/redis', 'sources/sqs', 'bridge', 'demo'],
  ['queue-handle'],
  ['sse', 'limits'],
  ['source', 'errors', 'metrics', 'logger'],
  ['histogram', 'log-fields', 'bounded-wait'],
];

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(repo, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []);
}

/** The relative imports of one file, as repository paths of .ts sources. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(repo, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)]
    .map((match) => normalize(join(dirname(file), match[1]!)).replace(/\.js$/, '.ts'));
}

/** The part of lib/ a file belongs to: `engine`, `sources/redis`, or a root file's name without extension. */
function partOf(file: string): string {
  const segments = relative('lib', file).split('/');
  if (segments.length === 1) return segments[0]!.replace(/\.ts$/, '');
  if (segments[0] === 'sources' && segments.length > 2) return `sources/${segments[1]}`;
  return segments[0]!;
}

const floorOf = (part: string): number => FLOORS.findIndex((floor) => floor.includes(part));
const libFiles = sourceFiles('lib');

describe('the layers of lib/', () => {
  it('places every part of lib/ on a floor', () => {
    const unplaced = [...new Set(libFiles.map(partOf))].filter((part) => floorOf(part) < 0);
    expect(unplaced).toEqual([]);
  });

  it('has no import running upward or sideways between parts', () => {
    const violations = libFiles.flatMap((file) => importsOf(file)
      .filter((target) => !target.startsWith('lib/') || (partOf(target) !== partOf(file) && floorOf(partOf(target)) <= floorOf(partOf(file))))
      .map((target) => `${file} imports ${target}`));
    expect(violations).toEqual([]);
  });

  it('has no import cycle between files', () => {
    const graph = new Map(libFiles.map((file) => [file, importsOf(file)]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') { cycles.push([...path.slice(path.indexOf(file)), file].join(' → ')); return; }
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of libFiles) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
