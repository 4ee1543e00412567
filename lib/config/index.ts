import { ConfigError } from './config-error.js';
import { EnvReader, type Env } from './env-reader.js';
import { readAuthConfig, type AuthConfig } from './auth-config.js';
import { readLambdaConfig, type LambdaConfig } from './lambda-config.js';
import { readQueueConfig, type QueueConfig } from './queue-config.js';
import { readRedisConfig, type RedisConfig } from './redis-config.js';
import { readSecretRefs, type SecretRef } from './secret-refs.js';
import { readServerConfig, type ServerConfig } from './server-config.js';
import { readSqsConfig, type SqsConfig } from './sqs-config.js';

export { ConfigError } from './config-error.js';
export type { Env } from './env-reader.js';
export type { AuthConfig, LambdaConfig, QueueConfig, RedisConfig, ServerConfig, SqsConfig };
export type { SourceMode } from './server-config.js';
export type { SecretRef, SecretStore } from './secret-refs.js';
export { readSecretRefs, SECRET_REF_VARIABLES } from './secret-refs.js';

/** Everything sse-relay can be told through its environment. */
export interface Config {
  server: ServerConfig;
  redis: RedisConfig;
  sqs: SqsConfig;
  queue: QueueConfig;
  auth: AuthConfig;
  lambda: LambdaConfig;
  /**
   * Secrets named rather than given (AUTH_JWT_SECRET_FROM, REDIS_URL_FROM). The entry points read them before
   * loadConfig (functions/resolve-secrets.ts), so after that step this is empty and the values are in their variables.
   */
  secretRefs: SecretRef[];
}

/**
 * Reads and checks the whole configuration once, at start. Pure: the environment is an argument. Throws a ConfigError
 * naming the first variable that is malformed or missing for the chosen mode.
 */
export function loadConfig(env: Env): Config {
  const reader = new EnvReader(env);
  const server = readServerConfig(reader);
  const config: Config = {
    server,
    redis: readRedisConfig(reader),
    sqs: readSqsConfig(reader),
    queue: readQueueConfig(reader),
    auth: readAuthConfig(reader, server.demo),
    lambda: readLambdaConfig(reader),
    secretRefs: readSecretRefs(reader),
  };
  checkRequirements(config);
  return config;
}

function checkRequirements({ server, redis, sqs, auth }: Config): void {
  const mode = server.source;
  if ((mode === 'redis' || mode === 'redis-list') && redis.topology === undefined) {
    const others = 'or set REDIS_SENTINELS with REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES';
    throw new ConfigError('REDIS_URL', `set for SOURCE=${mode} (redis://host:6379 or rediss://user:pass@host:6380), ${others}`, '');
  }
  if (mode === 'sqs' && sqs.queueUrl === undefined && sqs.queueUrlTemplate === undefined) {
    throw new ConfigError('SQS_QUEUE_URL', 'set for SOURCE=sqs (or SQS_QUEUE_URL_TEMPLATE containing {topic})', '');
  }
  if (sqs.queueUrlTemplate !== undefined && !/^https?:\/\/[^{}]*\{topic\}[^{}]*$/.test(sqs.queueUrlTemplate)) {
    throw new ConfigError('SQS_QUEUE_URL_TEMPLATE', 'an http(s) URL containing {topic} once', sqs.queueUrlTemplate);
  }
  if (auth.mode === 'jwt' && auth.jwtSecret === undefined && auth.jwksUrl === undefined) {
    throw new ConfigError('AUTH_JWT_SECRET', 'set for AUTH_MODE=jwt (or set AUTH_JWKS_URL, or AUTH_MODE=none to turn auth off)', '');
  }
  if (server.metricsPort !== undefined && server.metricsPort !== 0 && server.metricsPort === server.port) {
    throw new ConfigError('METRICS_PORT', `a port other than PORT (${server.port}), or unset to serve /metrics on PORT`, String(server.metricsPort));
  }
  checkWorkers(server);
  if (auth.jwtSecret !== undefined && Buffer.byteLength(auth.jwtSecret) < 32) {
    throw new ConfigError('AUTH_JWT_SECRET', 'at least 32 bytes long (HS256 needs a key as long as its hash)', '(hidden)');
  }
}

// Several workers are several processes: what one process keeps to itself must not be split among them.
function checkWorkers(server: ServerConfig): void {
  if (server.workers === 1) return;
  const workers = String(server.workers);
  if (server.source === 'memory') {
    throw new ConfigError('WORKERS', '1 (or unset) with SOURCE=memory: each process would keep its own topics, so a publish would reach only the streams of the worker that took it; use SOURCE=redis for several workers', workers);
  }
  if (server.demo) {
    throw new ConfigError('WORKERS', '1 (or unset) with DEMO=true: every worker would run its own demo publisher', workers);
  }
  if (server.metricsPort === undefined) {
    throw new ConfigError('METRICS_PORT', `set when WORKERS is ${workers}: the primary process serves the sum of every worker's metrics there (/metrics on PORT would reach one worker at random)`, '');
  }
}

/** Every environment variable sse-relay reads, in the order it reads them (the README table and k8s/ are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = listVariables();

function listVariables(): string[] {
  const names: string[] = [];
  const recording = new Proxy({} as Env, { get: (_t, name) => (names.push(String(name)), undefined) });
  const reader = new EnvReader(recording);
  readSecretRefs(reader);
  readServerConfig(reader);
  readRedisConfig(reader);
  readSqsConfig(reader);
  readQueueConfig(reader);
  readAuthConfig(reader, false);
  readLambdaConfig(reader);
  return [...new Set(names)];
}
