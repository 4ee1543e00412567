import { describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../lib/config/index.js';
import { findObject, k8sPath, readYaml, renderKustomization, type K8sObject } from './kustomize-render.js';

// The ConfigMap and the Secret example speak the server's configuration language: only variables it reads, secrets
// only in the Secret, and together they load with SOURCE=redis once a real AUTH_JWT_SECRET is filled in.

const base = renderKustomization(k8sPath());
const overlay = renderKustomization(k8sPath('overlays', 'with-redis'));
const configMap = (findObject(base, 'ConfigMap', 'sse-relay-config')['data'] ?? {}) as Record<string, string>;
const secret = (readYaml(k8sPath('base', 'secret.example.yaml'))[0] as K8sObject)['stringData'] as Record<string, string>;
const SECRET_VARIABLES = ['REDIS_URL', 'AUTH_JWT_SECRET'];

describe('ConfigMap sse-relay-config and the Secret example', () => {
  test('every key is a variable the server reads', () => {
    const unknown = [...Object.keys(configMap), ...Object.keys(secret)].filter((key) => !CONFIG_VARIABLES.includes(key));
    expect(unknown).toEqual([]);
  });

  test('secrets live only in the Secret, and the Secret holds nothing else', () => {
    expect(Object.keys(secret).sort()).toEqual([...SECRET_VARIABLES].sort());
    expect(Object.keys(configMap).filter((key) => SECRET_VARIABLES.includes(key))).toEqual([]);
  });

  test('runs SOURCE=redis with auth on and the demo off', () => {
    expect(configMap).toMatchObject({ SOURCE: 'redis', AUTH_MODE: 'jwt', DEMO: 'false' });
    expect(secret['REDIS_URL']).toMatch(/^rediss?:\/\//);
  });

  test('loads with loadConfig once the operator supplies AUTH_JWT_SECRET', () => {
    const env = { ...configMap, ...secret, AUTH_JWT_SECRET: randomBytes(48).toString('base64') };
    const config = loadConfig(env);
    expect(config.server.source).toBe('redis');
    expect(config.redis.url).toBe(secret['REDIS_URL']);
    expect(config.auth.mode).toBe('jwt');
  });

  test('a verbatim copy of the example refuses to start instead of running with a published key', () => {
    expect(() => loadConfig({ ...configMap, ...secret })).toThrow(ConfigError);
    expect(() => loadConfig({ ...configMap, ...secret })).toThrow(/AUTH_JWT_SECRET/);
  });

  test('listens on every address family, so probes and scrapes reach the pod on IPv6-only and dual-stack clusters', () => {
    // "::" is a dual-stack socket on Linux (it takes IPv4 too); "0.0.0.0" refuses every IPv6 connection, so on an
    // IPv6-only cluster no probe would ever pass. (Not started here: tests bind to loopback only.)
    const config = loadConfig({ ...configMap, ...secret, AUTH_JWT_SECRET: randomBytes(48).toString('base64') });
    expect(config.server.host).toBe('::');
  });

  test("the example REDIS_URL names the overlay's Redis Service and port", () => {
    const url = new URL(secret['REDIS_URL']!);
    const service = findObject(overlay, 'Service', url.hostname)['spec'] as { ports: { port: number }[] };
    expect(service.ports.map((p) => p.port)).toContain(Number(url.port || 6379));
  });
});
