import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { CONFIG_DEFAULTS, CONFIG_VARIABLES, renderConfigTable } from '../../lib/config/index.js';
import { ERROR_CODES } from '../../lib/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The body rows of the first Markdown table after `heading`, as arrays of cells. */
function table(heading: string): string[][] {
  const lines = readme.slice(readme.indexOf(heading)).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

describe('README', () => {
  it('lists exactly the error codes the code has, with the same status and meaning', () => {
    const rows = table('### Errors');
    const fromReadme = Object.fromEntries(rows.map(([code, status, meaning]) => [code?.replace(/`/g, ''), { status: Number(status), message: meaning }]));
    expect(fromReadme).toEqual(ERROR_CODES);
  });

  it('documents exactly the environment variables the server reads', () => {
    const documented = table('## Configuration').map(([name]) => name?.replace(/`/g, ''));
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  it('has the configuration table rendered from lib/config\'s defaults objects (else run `npm run docs:config`)', () => {
    const rendered = renderConfigTable().split('\n').slice(2).map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
    const inReadme = table('## Configuration');
    // Row by row, so a failure names the variable whose default or meaning differs.
    expect(inReadme).toEqual(rendered);
    expect(inReadme.find(([name]) => name === '`SESSION_IDLE_MS`')?.[1]).toBe('`0` (off; Lambda `60000`)');
  });

  it('has one defaults entry per variable read, in exactly one area', () => {
    const names = CONFIG_DEFAULTS.flatMap((area) => Object.keys(area));
    expect(names.length).toBe(new Set(names).size);
    expect([...names].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});
