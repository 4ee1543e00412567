import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { findObject, k8sPath, renderKustomization } from './kustomize-render.js';

// ingress-nginx closes every connection its old workers still hold `worker-shutdown-timeout` after a reload (240 s by
// default), all at once and with no final `retry:`, so every browser of every pod comes back in the same second. The
// documented controller setting must outlast a session (MAX_SESSION_MS), so streams end by themselves, spread.
const docs = readFileSync(new URL('../../docs/deploy-kubernetes.md', import.meta.url), 'utf8');
const configMap = findObject(renderKustomization(k8sPath()), 'ConfigMap', 'sse-relay-config')['data'] as Record<string, string>;

test('docs give ingress-nginx a worker-shutdown-timeout longer than a session of the shipped ConfigMap', () => {
  const setting = /worker-shutdown-timeout: "(\d+)s"/.exec(docs);
  expect(setting).not.toBeNull();
  const maxSessionMs = Number(configMap['MAX_SESSION_MS']);
  expect(maxSessionMs).toBeGreaterThan(0);
  expect(Number(setting?.[1]) * 1_000).toBeGreaterThan(maxSessionMs);
});
