import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// A newcomer follows the README's and docs' links: every relative link must name a file of the repository, and every
// #fragment a heading of its target (as GitHub renders it) or an explicit id.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped, each space a `-`. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The anchors a Markdown file offers: its headings' slugs (numbered when repeated) and explicit `id`/`name`s. */
function anchorsOf(file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  const anchors = new Set<string>();
  for (const [, heading] of text.matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = slug(heading as string);
    let name = base;
    for (let n = 1; anchors.has(name); n++) name = `${base}-${n}`;
    anchors.add(name);
  }
  for (const [, id] of text.matchAll(/<a (?:id|name)="([^"]+)"/g)) anchors.add(id as string);
  return anchors;
}

/** Relative links of a Markdown file, outside code blocks and inline code: `[text](target)`. */
function linksOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] as string).filter((t) => !/^[a-z]+:/i.test(t));
}

describe('links of the README and docs/', () => {
  it.each(PAGES)('%s: every relative link names an existing file and heading', (page) => {
    const broken: string[] = [];
    for (const target of linksOf(page)) {
      const [path = '', fragment] = target.split('#');
      const file = path === '' ? page : relative(ROOT, join(ROOT, dirname(page), decodeURIComponent(path)));
      if (!existsSync(join(ROOT, file))) broken.push(`${target} (no file ${file})`);
      else if (fragment !== undefined && file.endsWith('.md') && !anchorsOf(file).has(fragment)) broken.push(`${target} (no heading #${fragment} in ${file})`);
    }
    expect(broken).toEqual([]);
  });
});
