import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findObject, k8sPath, readYaml, renderKustomization, renderOwnKustomization, REPO_ROOT, type K8sObject } from './kustomize-render.js';
import { validateObject } from './k8s-schema.js';

// Every object `kubectl apply -k` would send is valid against the Kubernetes schema, and the two entry points
// (k8s/ and k8s/overlays/with-redis/) contain what docs/deploy-kubernetes.md says they do.

const base = renderKustomization(k8sPath());
const overlay = renderKustomization(k8sPath('overlays', 'with-redis'));
const sqs = renderKustomization(k8sPath('overlays', 'sqs'));
const sentinel = renderKustomization(k8sPath('overlays', 'sentinel'));
const monitored = renderKustomization(k8sPath(), [k8sPath('components', 'monitoring')]);
const version = (JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { version: string }).version;
const secretExample = readYaml(k8sPath('base', 'secret.example.yaml')) as K8sObject[];
const names = (objects: K8sObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

describe('kustomize output', () => {
  const relayOnly = [
    'ConfigMap/sse-relay-config',
    'Deployment/sse-relay',
    'HorizontalPodAutoscaler/sse-relay',
    'Ingress/sse-relay',
    'NetworkPolicy/sse-relay',
    'PodDisruptionBudget/sse-relay',
    'Service/sse-relay',
  ];

  test('k8s/ renders the base for an external Redis: the relay, everything around it and egress to Redis, no Secret', () => {
    expect(names(base)).toEqual([...relayOnly, 'NetworkPolicy/sse-relay-egress-redis'].sort());
    expect(names(renderKustomization(k8sPath('base')))).toEqual(relayOnly);
  });

  test('overlays/with-redis adds a Redis StatefulSet, its headless Service and the NetworkPolicies around it', () => {
    expect(names(overlay)).toEqual(
      [...relayOnly, 'NetworkPolicy/sse-relay-egress-redis', 'NetworkPolicy/sse-relay-redis', 'Service/sse-relay-redis', 'StatefulSet/sse-relay-redis'].sort(),
    );
  });

  test('overlays/sqs adds a ServiceAccount and HTTPS egress, and no Redis at all', () => {
    expect(names(sqs)).toEqual([...relayOnly, 'NetworkPolicy/sse-relay-egress-https', 'ServiceAccount/sse-relay'].sort());
  });

  test('overlays/sentinel adds egress to the Sentinel-managed Redis and nothing else', () => {
    expect(names(sentinel)).toEqual([...relayOnly, 'NetworkPolicy/sse-relay-egress-redis'].sort());
  });

  test('components/monitoring adds a ServiceMonitor, its metrics-only Service and a NetworkPolicy for the scrape', () => {
    expect(names(monitored)).toEqual(
      [...names(base), 'NetworkPolicy/sse-relay-metrics', 'Service/sse-relay-metrics', 'ServiceMonitor/sse-relay'].sort(),
    );
  });

  test.each([
    ['base', base],
    ['overlay', overlay],
    ['sqs overlay', sqs],
    ['sentinel overlay', sentinel],
    ['monitoring component', monitored],
    ['secret example', secretExample],
  ])('every object of the %s is valid against its Kubernetes schema', (_name, objects) => {
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) expect(() => validateObject(object)).not.toThrow();
  });

  test('the schema check rejects a broken manifest', () => {
    const broken = structuredClone(findObject(base, 'Deployment'));
    (broken['spec'] as { replicas: unknown }).replicas = '2';
    expect(() => validateObject(broken)).toThrow(/spec\/replicas must be integer/);
    const unknownKind = { ...findObject(base, 'Service'), kind: 'Servcie' };
    expect(() => validateObject(unknownKind)).toThrow(/no schema registered/);
  });

  test('the image is set by kustomize `images`: a registry repository and the package version, in every variant', () => {
    for (const objects of [base, overlay, sqs, sentinel]) {
      const deployment = findObject(objects, 'Deployment', 'sse-relay');
      const containers = (deployment['spec'] as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers;
      // A registry host (with a dot or a port) in front: a bare `sse-relay` makes kubelet try Docker Hub and fail.
      expect(containers.map((c) => c.image)).toEqual([expect.stringMatching(new RegExp(`^[a-z0-9.-]+(\\.[a-z]+|:\\d+)/[a-z0-9./_-]+:${version.replace(/\./g, '\\.')}$`))]);
    }
    const { images } = readYaml(k8sPath('base', 'kustomization.yaml'))[0] as { images: { name: string; newTag: string }[] };
    expect(images).toEqual([expect.objectContaining({ name: 'sse-relay', newTag: version })]);
  });

  test("a kustomization of one's own, as docs/deploy-kubernetes.md writes it, points every variant at the pushed image", () => {
    const docs = readFileSync(join(REPO_ROOT, 'docs', 'deploy-kubernetes.md'), 'utf8');
    const own = /cat > deploy\/kustomization\.yaml <<'YAML'\n([\s\S]*?)\nYAML\n/.exec(docs)?.[1] ?? '';
    const [, repository, tag] = /newName: (\S+), newTag: "([^"]+)"/.exec(own) ?? [];
    expect([repository, tag]).toEqual(['registry.example.com/team/sse-relay', version]);
    for (const entry of ['../k8s', '../k8s/overlays/with-redis', '../k8s/overlays/sqs', '../k8s/overlays/sentinel']) {
      const objects = renderOwnKustomization(own.replace('[../k8s]', `[${entry}]`));
      const deployment = findObject(objects, 'Deployment', 'sse-relay')['spec'] as { template: { spec: { containers: { image: string }[] } } };
      expect([entry, deployment.template.spec.containers.map((c) => c.image)]).toEqual([entry, [`${repository}:${tag}`]]);
    }
  });

  test('every object carries the app.kubernetes.io/name label', () => {
    for (const object of [...overlay, ...sqs, ...sentinel, ...monitored]) expect(object.metadata.labels?.['app.kubernetes.io/name']).toMatch(/^sse-relay(-redis)?$/);
  });
});
