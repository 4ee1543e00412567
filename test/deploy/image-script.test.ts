import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, findObject, renderOwnKustomization } from './kustomize-render.js';

// `npm run image` (scripts/image.mjs) picks the engine on PATH and names the tag; no engine runs here (no daemon), so each
// "engine" is a stand-in script on a PATH of its own that records the arguments it was given.

const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function runImage(engines: string[], env: Record<string, string>, args: string[] = []): { status: number | null; output: string; calls: string[] } {
  const bin = mkdtempSync(join(tmpdir(), 'sse-relay-image-'));
  try {
    for (const engine of engines) {
      writeFileSync(join(bin, engine), `#!/bin/sh\necho "${engine} $*" >> "${join(bin, 'calls.log')}"\n`);
      chmodSync(join(bin, engine), 0o755);
    }
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'image.mjs'), ...args], { encoding: 'utf8', env: { PATH: bin, ...env } });
    let calls: string[] = [];
    try {
      calls = readFileSync(join(bin, 'calls.log'), 'utf8').trim().split('\n');
    } catch {
      // no engine was called
    }
    return { status: result.status, output: result.stdout + result.stderr, calls };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

describe('npm run image', () => {
  test('says clearly when no engine is installed', () => {
    const result = runImage([], { IMAGE_REPOSITORY: 'registry.example.com/team/sse-relay' });
    expect(result.status).toBe(1);
    expect(result.output).toMatch(/no container engine found: install one of docker, podman, buildah/);
  });

  test('needs IMAGE_REPOSITORY, without a tag', () => {
    expect(runImage(['docker'], {}).output).toMatch(/IMAGE_REPOSITORY must be set/);
    const tagged = runImage(['docker'], { IMAGE_REPOSITORY: 'registry.example.com/sse-relay:1.0' });
    expect([tagged.status, tagged.calls]).toEqual([1, []]);
    expect(tagged.output).toMatch(/without a tag/);
  });

  test.each([
    [['docker', 'podman'], 'docker build'],
    [['podman'], 'podman build'],
    [['buildah'], 'buildah bud'],
  ])('with %j on PATH builds with %s and tags ${IMAGE_REPOSITORY}:<version>', (engines, build) => {
    const result = runImage(engines, { IMAGE_REPOSITORY: 'registry.example.com/team/sse-relay' });
    expect(result.status).toBe(0);
    expect(result.calls).toEqual([`${build} -t registry.example.com/team/sse-relay:${version} -f Dockerfile .`]);
    expect(result.output).toContain(`newName: registry.example.com/team/sse-relay, newTag: "${version}"`);
  });

  test('prints a kustomization that, applied next to k8s/, points the Deployment at the image it built', () => {
    const { output } = runImage(['docker'], { IMAGE_REPOSITORY: 'registry.example.com/team/sse-relay' });
    const printed = output.slice(output.indexOf('apiVersion:')).replace('<path to>/k8s', '../k8s');
    const deployment = findObject(renderOwnKustomization(printed), 'Deployment', 'sse-relay')['spec'] as { template: { spec: { containers: { image: string }[] } } };
    expect(deployment.template.spec.containers.map((c) => c.image)).toEqual([`registry.example.com/team/sse-relay:${version}`]);
  });

  test('pushes with --push or IMAGE_PUSH=true', () => {
    const image = `localhost:5000/sse-relay:${version}`;
    expect(runImage(['podman'], { IMAGE_REPOSITORY: 'localhost:5000/sse-relay' }, ['--push']).calls).toEqual([`podman build -t ${image} -f Dockerfile .`, `podman push ${image}`]);
    expect(runImage(['docker'], { IMAGE_REPOSITORY: 'localhost:5000/sse-relay', IMAGE_PUSH: 'true' }).calls.at(-1)).toBe(`docker push ${image}`);
  });
});
