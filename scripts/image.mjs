#!/usr/bin/env node
// `npm run image [-- --push]`: builds the Dockerfile with whichever of docker, podman or buildah is installed, tags it
// ${IMAGE_REPOSITORY}:<package.json version>, and with --push (or IMAGE_PUSH=true) pushes it. IMAGE_BUILDER picks an
// engine when several are installed. Prints the kustomization that points k8s/ at the image.
/* global process, console, URL */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENGINES = ['docker', 'podman', 'buildah'];
const root = fileURLToPath(new URL('..', import.meta.url));

function fail(message) {
  console.error(`npm run image: ${message}`);
  process.exit(1);
}

/** The first engine on PATH (or IMAGE_BUILDER), or undefined. */
function findEngine() {
  const wanted = process.env.IMAGE_BUILDER ? [process.env.IMAGE_BUILDER] : ENGINES;
  for (const engine of wanted) {
    for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
      try {
        accessSync(join(dir, engine), constants.X_OK);
        return engine;
      } catch {
        // not in this folder
      }
    }
  }
  return undefined;
}

function run(engine, args) {
  console.log(`$ ${engine} ${args.join(' ')}`);
  const result = spawnSync(engine, args, { stdio: 'inherit', cwd: root });
  if (result.error) fail(`${engine} could not run: ${result.error.message}`);
  if (result.status !== 0) fail(`${engine} ${args[0]} failed with exit code ${result.status}`);
}

const repository = process.env.IMAGE_REPOSITORY?.trim();
if (!repository) fail('IMAGE_REPOSITORY must be set to the image repository to tag, e.g. IMAGE_REPOSITORY=registry.example.com/team/sse-relay');
if (!/^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/.test(repository)) {
  fail(`IMAGE_REPOSITORY must be a repository without a tag, like registry.example.com/team/sse-relay; got ${JSON.stringify(repository)}`);
}
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const image = `${repository}:${version}`;
const push = process.argv.includes('--push') || process.env.IMAGE_PUSH === 'true';
const engine = findEngine();
if (engine === undefined) {
  fail(`no container engine found: install one of ${ENGINES.join(', ')} (or set IMAGE_BUILDER to one on PATH)` +
    (process.env.IMAGE_BUILDER ? `; IMAGE_BUILDER=${process.env.IMAGE_BUILDER} is not on PATH` : ''));
}
// buildah's subcommand is `bud` (build-using-dockerfile) in every version; docker and podman say `build`.
run(engine, [engine === 'buildah' ? 'bud' : 'build', '-t', image, '-f', 'Dockerfile', '.']);
if (push) run(engine, ['push', image]);
// kustomize matches `images:` by the name an image has when it reaches that kustomization: k8s/base already renamed
// `sse-relay` to its placeholder repository, so an override of `sse-relay` would change nothing.
const baseImage = /^\s*newName:\s*(\S+)\s*$/m.exec(readFileSync(join(root, 'k8s', 'base', 'kustomization.yaml'), 'utf8'))?.[1] ?? 'sse-relay';
console.log(`\n${push ? 'pushed' : 'built'} ${image}${push ? '' : ' (add --push to push it)'}
Point the manifests at it with a kustomization of your own, applied with \`kubectl apply -k <its folder>\`:
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [<path to>/k8s]
images:
  - { name: ${baseImage}, newName: ${repository}, newTag: "${version}" }`);
