import { describe, expect, test } from '@jest/globals';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { join } from 'node:path';
import { EXIT_MARGIN_MS } from '../../functions/server.js';
import { loadAssets } from '../../functions/load-assets.js';
import { loadConfig } from '../../lib/config/index.js';
import { drainWindowMs } from '../../lib/engine/drain-pace.js';
import { findObject, k8sPath, readYaml, renderKustomization, REPO_ROOT } from './kustomize-render.js';

// The Deployment and its neighbours agree with each other and with how the server behaves (functions/server.ts):
// probes, port, the SIGTERM drain, security, and the SSE settings of the Ingress.

const base = renderKustomization(k8sPath());
const deployment = new Deployment(findObject(base, 'Deployment', 'sse-relay') as never);
const config = new ConfigMap(findObject(base, 'ConfigMap', 'sse-relay-config') as never).data ?? {};
const pod = deployment.spec!.template;
const container = pod.spec!.containers.find((c) => c.name === 'sse-relay')!;
const podLabels = pod.metadata!.labels!;
const DEFAULT_DRAIN_MS = 10_000;

const matches = (selector: Record<string, string> | undefined): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => podLabels[k] === v);

describe('Deployment sse-relay', () => {
  test('runs at least two replicas, and the HPA never goes below that', () => {
    expect(deployment.spec!.replicas).toBeGreaterThanOrEqual(2);
    const hpa = new HorizontalPodAutoscaler(findObject(base, 'HorizontalPodAutoscaler') as never);
    expect(hpa.spec!.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'sse-relay' });
    expect(hpa.spec!.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec!.maxReplicas).toBeGreaterThan(hpa.spec!.minReplicas!);
  });

  test('exposes the port the server listens on, named http, and METRICS_PORT named metrics', () => {
    const port = Number(config['PORT'] ?? 8080);
    const metricsPort = Number(config['METRICS_PORT']);
    expect(metricsPort).toBeGreaterThan(0);
    expect(metricsPort).not.toBe(port);
    expect(container.ports).toEqual([
      { name: 'http', containerPort: port, protocol: 'TCP' },
      { name: 'metrics', containerPort: metricsPort, protocol: 'TCP' },
    ]);
    expect(pod.metadata!.annotations).toMatchObject({ 'prometheus.io/port': String(metricsPort), 'prometheus.io/path': '/metrics' });
  });

  test('readiness asks /readyz and liveness /healthz on that port', () => {
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    // Readiness must notice a draining pod well within the preStop + drain window.
    const { periodSeconds = 10, failureThreshold = 3 } = container.readinessProbe!;
    expect(periodSeconds * failureThreshold).toBeLessThanOrEqual(10);
  });

  test('the grace period outlasts preStop + the longest drain window (a full pod at DRAIN_RATE_PER_S) + the exit margin', () => {
    const command = container.lifecycle?.preStop?.exec?.command ?? [];
    expect(command).toEqual(['sleep', expect.stringMatching(/^\d+$/)]);
    const preStopSeconds = Number(command[1]);
    expect(preStopSeconds).toBeGreaterThanOrEqual(3);
    // The Secret's values (REDIS_URL, the JWT secret) do not change the drain: stand-ins make the ConfigMap loadable.
    const server = loadConfig({ ...config, AUTH_MODE: 'none', REDIS_URL: 'redis://sse-relay-redis:6379' }).server;
    const pace = { minimumMs: server.shutdownDrainMs, ratePerSecond: server.drainRatePerSecond };
    const windowSeconds = drainWindowMs(server.maxConnections, pace) / 1000;
    expect(windowSeconds).toBeGreaterThanOrEqual(Number(config['SHUTDOWN_DRAIN_MS'] ?? DEFAULT_DRAIN_MS) / 1000);
    expect(pod.spec!.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + windowSeconds + EXIT_MARGIN_MS / 1000);
  });

  test('runs locked down: non-root numeric user, read-only root, no capabilities, RuntimeDefault seccomp', () => {
    expect(pod.spec!.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec!.securityContext!.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.spec!.automountServiceAccountToken).toBe(false);
    // A read-only root needs a writable /tmp.
    expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
  });

  test('requests and limits CPU and memory', () => {
    for (const kind of ['requests', 'limits'] as const) {
      expect(Object.keys(container.resources?.[kind] ?? {}).sort()).toEqual(['cpu', 'memory']);
    }
  });

  test('takes its environment from the ConfigMap and the Secret', () => {
    const secretName = (readYaml(k8sPath('base', 'secret.example.yaml'))[0] as { metadata: { name: string } }).metadata.name;
    expect(container.envFrom).toEqual([{ configMapRef: { name: 'sse-relay-config' } }, { secretRef: { name: secretName } }]);
    expect(container.env ?? []).toEqual([]);
  });

  test('spreads pods over zones and nodes', () => {
    const spread = pod.spec!.topologySpreadConstraints ?? [];
    expect(spread.map((c) => c.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const c of spread) expect(matches(c.labelSelector?.matchLabels)).toBe(true);
  });

  test('selector, Service and PodDisruptionBudget all select these pods', () => {
    expect(matches(deployment.spec!.selector.matchLabels)).toBe(true);
    const service = new Service(findObject(base, 'Service', 'sse-relay') as never);
    expect(matches(service.spec!.selector)).toBe(true);
    // The only port: the Service (and so the Ingress) never exposes the metrics port.
    expect(service.spec!.ports).toEqual([expect.objectContaining({ name: 'http', targetPort: 'http' })]);
    const pdb = new PodDisruptionBudget(findObject(base, 'PodDisruptionBudget') as never);
    expect(matches(pdb.spec!.selector?.matchLabels)).toBe(true);
    expect(Number(pdb.spec!.maxUnavailable)).toBeLessThan(deployment.spec!.replicas!);
  });
});

describe('Ingress sse-relay', () => {
  const ingress = new Ingress(findObject(base, 'Ingress') as never);
  const annotation = (name: string): string | undefined => ingress.metadata?.annotations?.[`nginx.ingress.kubernetes.io/${name}`];

  test('uses ingress-nginx and routes to the Service port', () => {
    expect(ingress.spec!.ingressClassName).toBe('nginx');
    const backends = ingress.spec!.rules!.flatMap((r) => r.http!.paths.map((p) => p.backend.service));
    expect(new Set(backends.map((b) => JSON.stringify(b)))).toEqual(new Set([JSON.stringify({ name: 'sse-relay', port: { name: 'http' } })]));
  });

  test('routes exactly /events, /publish and the static demo/client files; nothing else reaches a pod', async () => {
    const assets = await loadAssets(join(REPO_ROOT, 'public'));
    const paths = ingress.spec!.rules!.flatMap((r) => r.http!.paths);
    expect(paths.every((p) => p.pathType === 'Exact')).toBe(true);
    expect(paths.map((p) => p.path).sort()).toEqual(['/events', '/publish', '/ack', ...assets.keys()].sort());
    expect(paths.map((p) => p.path)).not.toContain('/metrics');
  });

  test('terminates TLS for every host it routes, from a named Secret', () => {
    const hosts = ingress.spec!.rules!.map((r) => r.host);
    const tls = ingress.spec!.tls ?? [];
    expect(tls.length).toBeGreaterThan(0);
    for (const entry of tls) expect(entry.secretName).toMatch(/^[a-z0-9-]+$/);
    expect(tls.flatMap((t) => t.hosts ?? []).sort()).toEqual([...hosts].sort());
    expect(annotation('ssl-redirect')).toBe('true');
  });

  test('streams unbuffered over HTTP/1.1 with timeouts far above the heartbeat', () => {
    expect(annotation('proxy-buffering')).toBe('off');
    expect(annotation('proxy-request-buffering')).toBe('off');
    expect(annotation('proxy-http-version')).toBe('1.1');
    const heartbeatSeconds = Number(config['HEARTBEAT_MS'] ?? 15_000) / 1000;
    for (const name of ['proxy-read-timeout', 'proxy-send-timeout']) {
      expect(Number(annotation(name))).toBeGreaterThanOrEqual(3600);
      expect(Number(annotation(name))).toBeGreaterThan(4 * heartbeatSeconds);
    }
  });
});
