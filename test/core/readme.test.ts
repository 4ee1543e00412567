import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES } from '../../lib/config/index.js';
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
});
