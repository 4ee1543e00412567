import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './kustomize-render.js';

// No Docker engine here: the Dockerfile is read statically. Instructions are joined across `\` continuations.

export interface Instruction { op: string; args: string }
export interface Stage { from: string; name: string | undefined; steps: Instruction[] }

export function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, steps: [] });
    } else if (op.toUpperCase() !== 'ARG' || stages.length > 0) {
      stages.at(-1)?.steps.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

/** The stages of the repository's Dockerfile. */
export const readDockerfile = (): Stage[] => parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));

/** The arguments of every `op` instruction of a stage, in order. */
export const all = (stage: Stage, op: string): string[] => stage.steps.filter((s) => s.op === op).map((s) => s.args);

/** A stage's COPY lines that take from the build context (not `--from=` another stage), as [sources, destination]. */
export function contextCopies(stage: Stage): [string[], string][] {
  return all(stage, 'COPY').filter((a) => !a.startsWith('--from=')).map((a) => {
    const parts = a.split(/\s+/);
    return [parts.slice(0, -1), parts.at(-1) ?? ''];
  });
}
