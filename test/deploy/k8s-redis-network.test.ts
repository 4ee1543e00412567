import { describe, expect, test } from '@jest/globals';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Service } from 'kubernetes-models/v1';
import { findObject, k8sPath, renderKustomization } from './kustomize-render.js';

// The Redis of overlays/with-redis is durable and locked down, and the NetworkPolicies let exactly the intended
// traffic through: ingress controller → relay → Redis, plus DNS.

const overlay = renderKustomization(k8sPath('overlays', 'with-redis'));
const redis = new StatefulSet(findObject(overlay, 'StatefulSet', 'sse-relay-redis') as never);
const redisPod = redis.spec!.template;
const redisContainer = redisPod.spec!.containers[0]!;
const redisPort = redisContainer.ports!.find((p) => p.name === 'redis')!.containerPort;
const relayLabels = (findObject(overlay, 'Deployment', 'sse-relay')['spec'] as { template: { metadata: { labels: Record<string, string> } } })
  .template.metadata.labels;

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('Redis StatefulSet', () => {
  test('keeps an append-only file on a PersistentVolume', () => {
    expect(redisContainer.args?.join(' ')).toContain('--appendonly yes');
    const claim = redis.spec!.volumeClaimTemplates?.[0];
    expect(claim?.spec?.resources?.requests?.['storage']).toBeDefined();
    expect(redisContainer.volumeMounts).toContainEqual({ name: claim?.metadata?.name, mountPath: '/data' });
    expect(redisContainer.args?.join(' ')).toContain('--dir /data');
  });

  test('runs as a numeric non-root user that owns its volume', () => {
    const security = redisPod.spec!.securityContext!;
    expect(security.runAsNonRoot).toBe(true);
    expect(security.runAsUser).toBeGreaterThan(0);
    expect(security.fsGroup).toBe(security.runAsUser);
    expect(redisContainer.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  test('is reached through a headless Service of the same name', () => {
    const service = new Service(findObject(overlay, 'Service', redis.spec!.serviceName!) as never);
    expect(service.spec!.clusterIP).toBe('None');
    expect(selects(service.spec!.selector, redisPod.metadata!.labels!)).toBe(true);
    expect(service.spec!.ports).toContainEqual(expect.objectContaining({ port: redisPort, targetPort: 'redis' }));
  });
});

describe('NetworkPolicies', () => {
  const relayPolicy = new NetworkPolicy(findObject(overlay, 'NetworkPolicy', 'sse-relay') as never);
  const relayToRedis = new NetworkPolicy(findObject(overlay, 'NetworkPolicy', 'sse-relay-egress-redis') as never);
  const redisPolicy = new NetworkPolicy(findObject(overlay, 'NetworkPolicy', 'sse-relay-redis') as never);

  test('the relay accepts connections only from the ingress-nginx namespace, on its http port', () => {
    expect(selects(relayPolicy.spec!.podSelector.matchLabels, relayLabels)).toBe(true);
    expect(relayPolicy.spec!.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(relayPolicy.spec!.ingress).toEqual([
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }], ports: [{ port: 'http', protocol: 'TCP' }] },
    ]);
  });

  test('the relay may reach the Redis pods on the Redis port, and DNS, nothing else', () => {
    const egress = [...relayPolicy.spec!.egress!, ...relayToRedis.spec!.egress!];
    expect(selects(relayToRedis.spec!.podSelector.matchLabels, relayLabels)).toBe(true);
    expect(relayToRedis.spec!.policyTypes).toEqual(['Egress']);
    expect(egress).toHaveLength(2);
    const toRedis = egress.find((rule) => rule.to?.some((peer) => selects(peer.podSelector?.matchLabels, redisPod.metadata!.labels!)));
    expect(toRedis?.ports).toEqual([{ port: redisPort, protocol: 'TCP' }]);
    const toDns = egress.find((rule) => rule !== toRedis);
    expect(toDns?.ports?.map((p) => `${p.port}/${p.protocol}`).sort()).toEqual(['53/TCP', '53/UDP']);
    // The kube-dns pods, and the NodeLocal DNSCache address where a cluster runs it (a host-network cache: no pod
    // selector matches it, so without the address every lookup fails there).
    expect(toDns?.to).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
      { ipBlock: { cidr: '169.254.20.10/32' } },
    ]);
    const relayPolicies = overlay.filter((o) => o.kind === 'NetworkPolicy' && selects((o['spec'] as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels, relayLabels));
    expect(relayPolicies.map((p) => p.metadata.name).sort()).toEqual(['sse-relay', 'sse-relay-egress-redis']);
  });

  test('Redis accepts only relay pods and opens no connections', () => {
    expect(selects(redisPolicy.spec!.podSelector.matchLabels, redisPod.metadata!.labels!)).toBe(true);
    expect(redisPolicy.spec!.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(redisPolicy.spec!.egress ?? []).toEqual([]);
    const [rule] = redisPolicy.spec!.ingress!;
    expect(rule?.from?.every((peer) => selects(peer.podSelector?.matchLabels, relayLabels))).toBe(true);
    expect(rule?.ports).toEqual([{ port: redisPort, protocol: 'TCP' }]);
  });
});
