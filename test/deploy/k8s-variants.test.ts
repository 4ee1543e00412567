import { describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { loadConfig } from '../../lib/config/index.js';
import { REPO_ROOT, findObject, k8sPath, renderKustomization, type K8sObject } from './kustomize-render.js';

// The variants a real cluster needs, checked on the rendered objects: an external Redis (k8s/), SQS with IRSA
// (overlays/sqs), the optional ServiceMonitor (components/monitoring), and HPA sizing that follows the requests.

const base = renderKustomization(k8sPath());
const sqs = renderKustomization(k8sPath('overlays', 'sqs'));
const sentinel = renderKustomization(k8sPath('overlays', 'sentinel'));
const monitored = renderKustomization(k8sPath(), [k8sPath('components', 'monitoring')]);

const deploymentOf = (objects: K8sObject[]): Deployment => new Deployment(findObject(objects, 'Deployment', 'sse-relay') as never);
const podLabels = deploymentOf(base).spec!.template.metadata!.labels!;
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> = podLabels): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
/** Every egress rule of the NetworkPolicies that select the relay pods. */
const relayEgress = (objects: K8sObject[]): NonNullable<NetworkPolicy['spec']>['egress'] =>
  objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => new NetworkPolicy(o as never))
    .filter((p) => selects(p.spec!.podSelector.matchLabels) && p.spec!.policyTypes?.includes('Egress'))
    .flatMap((p) => p.spec!.egress ?? []);

describe('k8s/ (external Redis, ElastiCache)', () => {
  test('has no Redis of its own and lets the relay reach an address range on 6379, plus DNS', () => {
    expect(base.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
    const egress = relayEgress(base) ?? [];
    const toRedis = egress.filter((rule) => rule.ports?.some((port) => port.port === 6379));
    expect(toRedis).toEqual([{ to: [{ ipBlock: { cidr: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+\/\d+$/) } }], ports: [{ port: 6379, protocol: 'TCP' }] }]);
    expect(egress.flatMap((rule) => rule.ports ?? []).map((p) => p.port).sort()).toEqual([53, 53, 6379]);
  });
});

describe('overlays/sqs', () => {
  const deployment = deploymentOf(sqs);
  const config = new ConfigMap(findObject(sqs, 'ConfigMap', 'sse-relay-config') as never).data ?? {};

  test('runs the pods as a ServiceAccount annotated for IRSA', () => {
    const account = new ServiceAccount(findObject(sqs, 'ServiceAccount', 'sse-relay') as never);
    expect(deployment.spec!.template.spec!.serviceAccountName).toBe(account.metadata!.name);
    expect(account.metadata!.annotations?.['eks.amazonaws.com/role-arn']).toMatch(/^arn:aws:iam::\d{12}:role\/.+$/);
    expect(deploymentOf(base).spec!.template.spec!.serviceAccountName).toBeUndefined();
  });

  test('loads as SOURCE=sqs with the queue and region it names, and needs no REDIS_URL', () => {
    const loaded = loadConfig({ ...config, AUTH_JWT_SECRET: randomBytes(48).toString('base64') });
    expect(loaded.server.source).toBe('sqs');
    expect(loaded.sqs.queueUrl).toMatch(/^https:\/\/sqs\.[a-z0-9-]+\.amazonaws\.com\/\d{12}\/.+$/);
    expect(loaded.sqs.region).toBe(config['AWS_REGION']);
  });

  test('the IAM role named for IRSA may make every SQS call the relay makes (docs/sqs.md and the ServiceAccount say the same)', () => {
    // Each XCommand / XBatchCommand the SQS source sends needs sqs:X; GetQueueAttributes is /readyz, so a role without
    // it keeps every pod unready.
    const sources = readdirSync(join(REPO_ROOT, 'lib', 'sources', 'sqs')).map((name) => readFileSync(join(REPO_ROOT, 'lib', 'sources', 'sqs', name), 'utf8'));
    const needed = new Set(sources.flatMap((text) => [...text.matchAll(/new (\w+?)(?:Batch)?Command\(/g)].map((m) => `sqs:${m[1]}`)));
    expect([...needed]).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:GetQueueAttributes']));
    const policy = /```json\n([\s\S]*?)\n```/.exec(readFileSync(join(REPO_ROOT, 'docs', 'sqs.md'), 'utf8').split('## IAM')[1] ?? '')?.[1];
    const documented = (JSON.parse(policy ?? '{}') as { Action?: string[] }).Action ?? [];
    const account = readFileSync(k8sPath('overlays', 'sqs', 'serviceaccount.yaml'), 'utf8');
    const named = new Set([...account.matchAll(/\b(?:sqs:)?([A-Z][A-Za-z]+)\b/g)].map((m) => `sqs:${m[1]}`));
    for (const action of needed) {
      expect([action, documented.includes(action)]).toEqual([action, true]);
      expect([action, named.has(action)]).toEqual([action, true]);
    }
  });

  test('reaches HTTPS (SQS, STS) and DNS, and no Redis', () => {
    const egress = relayEgress(sqs) ?? [];
    expect(egress.flatMap((rule) => rule.ports ?? []).map((p) => p.port).sort()).toEqual([443, 53, 53]);
    expect(sqs.filter((o) => o.metadata.name.includes('redis'))).toEqual([]);
  });
});

describe('components/monitoring', () => {
  const monitor = new ServiceMonitor(findObject(monitored, 'ServiceMonitor', 'sse-relay') as never);
  const metricsService = new Service(findObject(monitored, 'Service', 'sse-relay-metrics') as never);
  const container = deploymentOf(monitored).spec!.template.spec!.containers[0]!;

  test('scrapes /metrics on the metrics port through a headless metrics-only Service that selects the pods', () => {
    expect(selects(monitor.spec.selector.matchLabels, metricsService.metadata!.labels!)).toBe(true);
    expect(selects(metricsService.spec!.selector)).toBe(true);
    expect(metricsService.spec!.clusterIP).toBe('None');
    expect(metricsService.spec!.ports).toEqual([expect.objectContaining({ name: 'metrics', targetPort: 'metrics' })]);
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    expect(container.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(metricsService.spec!.ports![0]!.port);
  });

  test('the main Service does not select the metrics Service labels, so the Ingress can never reach it', () => {
    const main = new Service(findObject(monitored, 'Service', 'sse-relay') as never);
    expect(selects(monitor.spec.selector.matchLabels, main.metadata!.labels!)).toBe(false);
  });

  test('lets the monitoring namespace reach the metrics port and nothing else', () => {
    const policy = new NetworkPolicy(findObject(monitored, 'NetworkPolicy', 'sse-relay-metrics') as never);
    expect(selects(policy.spec!.podSelector.matchLabels)).toBe(true);
    expect(policy.spec!.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: expect.any(Object) } }], ports: [{ port: 'metrics', protocol: 'TCP' }] }]);
  });
});

describe('overlays/sentinel (Bitnami Redis with Sentinel, docs/redis-sentinel-values.yaml)', () => {
  const config = new ConfigMap(findObject(sentinel, 'ConfigMap', 'sse-relay-config') as never).data ?? {};
  const values = readFileSync(join(REPO_ROOT, 'docs', 'redis-sentinel-values.yaml'), 'utf8');

  test('lets the relay reach the release\'s pods on the sentinel port and the Redis port, plus DNS', () => {
    const egress = relayEgress(sentinel) ?? [];
    const toRedis = egress.filter((rule) => rule.ports?.some((port) => port.port === 6379));
    expect(toRedis).toEqual([{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'sse-redis' } } }], ports: [{ port: 6379, protocol: 'TCP' }, { port: 26379, protocol: 'TCP' }] }]);
    expect(egress.flatMap((rule) => rule.ports ?? []).map((p) => p.port).sort()).toEqual([26379, 53, 53, 6379]);
  });

  test('loads as a Sentinel topology naming the sentinels and the primary the values file sets up, with the chart\'s password', () => {
    const loaded = loadConfig({ ...config, AUTH_JWT_SECRET: randomBytes(48).toString('base64'), REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'pw' });
    const documented = /REDIS_SENTINELS: (\S+)/.exec(values)?.[1];
    const masterSet = /masterSet: (\S+)/.exec(values)?.[1];
    expect(config['REDIS_SENTINELS']).toBe(documented);
    expect(loaded.redis.topology).toMatchObject({ kind: 'sentinel', name: masterSet, sentinelPassword: 'pw', auth: { password: 'pw' } });
    expect(loaded.redis.waitReplicas).toBe(1);
    // The release the values file installs is the one the egress policy selects.
    expect(values).toMatch(/helm install sse-redis /);
  });

  test('refuses a Secret that still carries REDIS_URL, naming the variable to drop', () => {
    expect(() => loadConfig({ ...config, AUTH_JWT_SECRET: randomBytes(48).toString('base64'), REDIS_URL: 'redis://sse-relay-redis:6379/0' })).toThrow(/REDIS_SENTINELS/);
  });
});

describe('HorizontalPodAutoscaler sizing', () => {
  test('targets CPU at a share of a request sized from the benchmark (at least 250m: not 70 millicores)', () => {
    const hpa = new HorizontalPodAutoscaler(findObject(base, 'HorizontalPodAutoscaler') as never);
    const cpu = hpa.spec!.metrics![0]!.resource!;
    expect(cpu.name).toBe('cpu');
    const request = String(deploymentOf(base).spec!.template.spec!.containers[0]!.resources!.requests!['cpu']);
    const millicores = request.endsWith('m') ? Number(request.slice(0, -1)) : Number(request) * 1000;
    expect(millicores).toBeGreaterThanOrEqual(250);
    expect(millicores * (cpu.target.averageUtilization ?? 0) / 100).toBeGreaterThanOrEqual(200);
  });
});
