import { describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { all, contextCopies, readDockerfile, type Stage } from './dockerfile-parse.js';
import { REPO_ROOT, findObject, k8sPath, renderKustomization } from './kustomize-render.js';

// No Docker engine here: the Dockerfile is checked statically (test/deploy/dockerfile-parse.ts reads it).

const stages = readDockerfile();
const runtime = stages.at(-1)!;
const build = stages.find((s) => s.name === 'build');
const dockerignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

/** COPY sources taken from the build context (not `--from=` another stage). */
const contextSources = (stage: Stage): string[] => contextCopies(stage).flatMap(([sources]) => sources);

describe('Dockerfile', () => {
  test('builds in a node 22 stage and runs in a separate node 22 stage', () => {
    expect(stages).toHaveLength(2);
    for (const stage of stages) expect(stage.from).toMatch(/^node:(\$\{NODE_VERSION\}|22)(-slim|-alpine)$/);
    expect(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(/^ARG NODE_VERSION=22$/m);
    expect(all(build!, 'RUN')).toEqual([expect.stringMatching(/^npm ci\b/), 'npm run build']);
  });

  test('the runtime stage installs production dependencies only, with npm ci', () => {
    const runs = all(runtime, 'RUN').join(' && ');
    expect(runs).toMatch(/npm ci --omit=dev --omit=optional/);
    expect(runs).not.toMatch(/npm (install|i)\b|yarn|pnpm/);
    expect(all(runtime, 'ENV')).toContain('NODE_ENV=production');
  });

  test('the runtime stage copies the compiled server and public/ only', () => {
    expect(all(runtime, 'COPY')).toEqual(['package.json package-lock.json ./', '--from=build /app/dist ./dist', 'public ./public']);
    const buildConfig = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    expect(buildConfig.include).toContain('functions');
    const tsconfig = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    expect(tsconfig.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.' });
  });

  test('everything COPY takes from the context exists and is not excluded by .dockerignore', () => {
    for (const source of stages.flatMap(contextSources)) {
      expect([source, existsSync(join(REPO_ROOT, source))]).toEqual([source, true]);
      expect([source, dockerignore.includes(source.replace(/\/$/, ''))]).toEqual([source, false]);
    }
    expect(existsSync(join(REPO_ROOT, 'functions', 'server.ts'))).toBe(true);
    const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts;
    expect(scripts?.['build']).toMatch(/tsc -p tsconfig\.build\.json/);
  });

  test('.dockerignore keeps local and bulky folders out of the context', () => {
    for (const entry of ['node_modules', 'dist', '.git', 'test', 'bench', '.serverless', '.env']) expect(dockerignore).toContain(entry);
  });

  test('runs as the numeric non-root user the Deployment expects', () => {
    const [user] = all(runtime, 'USER');
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    const pod = (findObject(renderKustomization(k8sPath()), 'Deployment')['spec'] as { template: { spec: { securityContext: { runAsUser: number; runAsGroup: number } } } }).template.spec;
    expect(user).toBe(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`);
  });

  test('starts node directly in exec form so it receives SIGTERM as PID 1', () => {
    expect(all(runtime, 'CMD')).toEqual(['["node", "dist/functions/server.js"]']);
    expect(all(runtime, 'ENTRYPOINT')).toEqual([]);
    expect(all(runtime, 'EXPOSE')).toEqual(['8080']);
    expect(all(runtime, 'STOPSIGNAL').every((s) => s === 'SIGTERM')).toBe(true);
  });
});
