import { describe, expect, test } from '@jest/globals';
import { findObject, k8sPath, readYaml, renderKustomization, type K8sObject } from './kustomize-render.js';
import { validateObject } from './k8s-schema.js';

// Every object `kubectl apply -k` would send is valid against the Kubernetes schema, and the two entry points
// (k8s/ and k8s/overlays/with-redis/) contain what docs/deploy-kubernetes.md says they do.

const base = renderKustomization(k8sPath());
const overlay = renderKustomization(k8sPath('overlays', 'with-redis'));
const secretExample = readYaml(k8sPath('base', 'secret.example.yaml')) as K8sObject[];
const names = (objects: K8sObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

describe('kustomize output', () => {
  test('k8s/ renders the base: the relay and everything around it, but no Secret', () => {
    expect(names(base)).toEqual([
      'ConfigMap/sse-relay-config',
      'Deployment/sse-relay',
      'HorizontalPodAutoscaler/sse-relay',
      'Ingress/sse-relay',
      'NetworkPolicy/sse-relay',
      'PodDisruptionBudget/sse-relay',
      'Service/sse-relay',
    ]);
    expect(names(renderKustomization(k8sPath('base')))).toEqual(names(base));
  });

  test('overlays/with-redis adds a Redis StatefulSet, its headless Service and its NetworkPolicy', () => {
    expect(names(overlay)).toEqual(
      [...names(base), 'NetworkPolicy/sse-relay-redis', 'Service/sse-relay-redis', 'StatefulSet/sse-relay-redis'].sort(),
    );
  });

  test.each([
    ['base', base],
    ['overlay', overlay],
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

  test('the image is set by kustomize `images`', () => {
    const deployment = findObject(base, 'Deployment');
    const containers = (deployment['spec'] as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers;
    expect(containers.map((c) => c.image)).toEqual(['sse-relay:0.1.0']);
  });

  test('every object carries the app.kubernetes.io/name label', () => {
    for (const object of overlay) expect(object.metadata.labels?.['app.kubernetes.io/name']).toMatch(/^sse-relay(-redis)?$/);
  });
});
