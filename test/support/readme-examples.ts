import { readFileSync } from 'node:fs';

/** One fenced code block of the README marked with `<!-- example: name -->` on the line before it. */
export interface ReadmeExample {
  name: string;
  language: string;
  code: string;
}

const README = new URL('../../README.md', import.meta.url);
const MARKED_BLOCK = /<!-- example: ([\w-]+) -->\s*\n([ \t]*)```(\w+)\n([\s\S]*?)\n[ \t]*```/g;

/** Every marked example of the README, dedented (blocks inside list items are indented). */
export function readmeExamples(): Map<string, ReadmeExample> {
  const examples = new Map<string, ReadmeExample>();
  for (const [, name = '', indent = '', language = '', body = ''] of readFileSync(README, 'utf8').matchAll(MARKED_BLOCK)) {
    if (examples.has(name)) throw new Error(`README: two examples named ${name}`);
    const code = body.split('\n').map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line)).join('\n');
    examples.set(name, { name, language, code });
  }
  return examples;
}

/** The example's code with every `[from, to]` replaced; each `from` must occur, so a README edit cannot dodge the test. */
export function adapt(example: ReadmeExample | undefined, replacements: readonly [string, string][]): string {
  if (example === undefined) throw new Error('README example missing: mark it with <!-- example: name --> before its code block');
  let code = example.code;
  for (const [from, to] of replacements) {
    if (!code.includes(from)) throw new Error(`README example ${example.name} no longer contains ${JSON.stringify(from)}; update the test`);
    code = code.split(from).join(to);
  }
  return code;
}
