import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** The repository root, for tests that read deployment files. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One Kubernetes object as parsed from YAML. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

// The kustomization fields this renderer understands. Anything else fails the render, so a manifest feature the
// tests do not model (patches, generators, namespace…) cannot slip past them while `kubectl apply -k` sees it.
const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'components', 'patches', 'images']);

interface ImageOverride {
  name: string;
  newName?: string;
  newTag?: string;
}

/**
 * What `kubectl apply -k dir` would send, for the subset of kustomize used in k8s/: nested `resources` (files and
 * directories), `components`, `patches` (strategic-merge files, see mergePatch) and `images`. Throws on unknown fields,
 * duplicate objects and resource directories that contain the kustomization (kustomize rejects those as a cycle).
 * `extraComponents` adds components as a user's own kustomization would (tests of optional components).
 */
export function renderKustomization(dir: string, extraComponents: string[] = []): K8sObject[] {
  const root = resolve(dir);
  const file = join(root, 'kustomization.yaml');
  const kustomization = readYaml(file)[0] as Record<string, unknown>;
  for (const key of Object.keys(kustomization)) {
    if (!KNOWN_FIELDS.has(key)) throw new Error(`${file}: field "${key}" is not understood by test/deploy/kustomize-render.ts; teach it first`);
  }
  if (kustomization['kind'] !== 'Kustomization') throw new Error(`${file}: kind must be Kustomization`);
  const objects = renderLayer(root, file, kustomization);
  const components = [...((kustomization['components'] ?? []) as string[]).map((c) => resolve(root, c)), ...extraComponents];
  for (const component of components) {
    const componentFile = join(component, 'kustomization.yaml');
    const spec = readYaml(componentFile)[0] as Record<string, unknown>;
    if (spec['kind'] !== 'Component') throw new Error(`${componentFile}: kind must be Component`);
    objects.push(...renderLayer(component, componentFile, spec));
    applyPatches(objects, component, spec);
  }
  applyPatches(objects, root, kustomization);
  applyImages(objects, (kustomization['images'] ?? []) as ImageOverride[]);
  rejectDuplicates(objects, file);
  return objects;
}

/**
 * What `kubectl apply -k deploy/` would send for a kustomization of one's own (`text`, YAML) kept in a folder `deploy/`
 * next to this repository's `k8s/`, so that its `../k8s` is it: the setup docs/deploy-kubernetes.md describes.
 */
export function renderOwnKustomization(text: string): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'sse-relay-own-'));
  const link = join(dir, 'k8s');
  try {
    symlinkSync(join(REPO_ROOT, 'k8s'), link, 'dir');
    mkdirSync(join(dir, 'deploy'));
    writeFileSync(join(dir, 'deploy', 'kustomization.yaml'), text);
    return renderKustomization(join(dir, 'deploy'));
  } finally {
    unlinkSync(link);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The objects of a kustomization's or component's own `resources`. */
function renderLayer(root: string, file: string, kustomization: Record<string, unknown>): K8sObject[] {
  for (const key of Object.keys(kustomization)) {
    if (!KNOWN_FIELDS.has(key)) throw new Error(`${file}: field "${key}" is not understood by test/deploy/kustomize-render.ts; teach it first`);
  }
  const objects: K8sObject[] = [];
  for (const entry of (kustomization['resources'] ?? []) as string[]) {
    const path = resolve(root, entry);
    if (statSync(path).isDirectory()) {
      if (root === path || root.startsWith(path + sep)) throw new Error(`${file}: resource "${entry}" contains this kustomization (kustomize: cycle detected)`);
      objects.push(...renderKustomization(path));
    } else {
      objects.push(...(readYaml(path) as K8sObject[]));
    }
  }
  return objects;
}

/** Applies each `patches: - path: file` (a partial object naming its kind and name) to the object it names. */
function applyPatches(objects: K8sObject[], root: string, kustomization: Record<string, unknown>): void {
  for (const patch of (kustomization['patches'] ?? []) as { path?: string }[]) {
    if (patch.path === undefined) throw new Error(`${root}: only file patches (path:) are understood by test/deploy/kustomize-render.ts`);
    for (const partial of readYaml(resolve(root, patch.path)) as K8sObject[]) {
      const target = objects.find((o) => o.kind === partial.kind && o.metadata.name === partial.metadata.name);
      if (target === undefined) throw new Error(`${patch.path}: no ${partial.kind}/${partial.metadata.name} to patch`);
      mergePatch(target as unknown as Record<string, unknown>, partial as unknown as Record<string, unknown>);
    }
  }
}

/**
 * Strategic merge, the part k8s/ uses: maps merge key by key, lists of objects that all have a `name` merge item by
 * name (containers, ports, volumes), every other value replaces.
 */
export function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    if (isMap(current) && isMap(value)) mergePatch(current, value);
    else if (Array.isArray(current) && Array.isArray(value) && [...current, ...value].every((item) => isMap(item) && typeof item['name'] === 'string')) {
      for (const item of value as Record<string, unknown>[]) {
        const match = (current as Record<string, unknown>[]).find((c) => c['name'] === item['name']);
        if (match === undefined) current.push(item);
        else mergePatch(match, item);
      }
    } else target[key] = value;
  }
}

const isMap = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every document of a YAML file; a syntax error names the file. */
export function readYaml(path: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'));
  return documents.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${relative(REPO_ROOT, path)}: ${doc.errors[0]?.message}`);
    return doc.toJS() as unknown;
  }).filter((value) => value !== null);
}

function applyImages(objects: K8sObject[], images: ImageOverride[]): void {
  for (const container of objects.flatMap(podContainers)) {
    const [name, tag] = splitImage(container.image);
    const override = images.find((image) => image.name === name);
    if (override === undefined) continue;
    container.image = `${override.newName ?? name}:${override.newTag ?? tag ?? 'latest'}`;
  }
}

function splitImage(image: string): [string, string | undefined] {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? [image.slice(0, colon), image.slice(colon + 1)] : [image, undefined];
}

/** The containers (init ones too) of a Deployment or StatefulSet pod template; none for other kinds. */
export function podContainers(object: K8sObject): { name: string; image: string; [field: string]: unknown }[] {
  const spec = (object['spec'] as { template?: { spec?: { containers?: []; initContainers?: [] } } } | undefined)?.template?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

function rejectDuplicates(objects: K8sObject[], file: string): void {
  const seen = new Set<string>();
  for (const { kind, metadata } of objects) {
    const key = `${kind}/${metadata.name}`;
    if (seen.has(key)) throw new Error(`${file}: ${key} is defined twice`);
    seen.add(key);
  }
}

/** The single object of a kind (and name, when given); throws naming what is missing. */
export function findObject(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const matches = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (matches.length !== 1) throw new Error(`expected one ${kind}${name === undefined ? '' : `/${name}`}, found ${matches.length}`);
  return matches[0] as K8sObject;
}

/** The folder of a manifest path relative to the repository. */
export const k8sPath = (...parts: string[]): string => join(REPO_ROOT, 'k8s', ...parts);
