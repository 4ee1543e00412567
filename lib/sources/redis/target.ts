/**
 * Where a Redis source connects (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES; docs/redis.md "Topologies").
 * The same shape as lib/config's RedisTopology, declared here so sources do not depend on the configuration module.
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; auth: NodeAuth; sentinelPassword: string | undefined }
  | { kind: 'cluster'; nodes: HostPort[]; auth: NodeAuth; partitions: number };

export interface HostPort {
  host: string;
  port: number;
}

/** Credentials and TLS of Sentinel-managed and Cluster nodes (a URL carries its own). */
export interface NodeAuth {
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
}
