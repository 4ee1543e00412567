import { EnvReader, type Env } from './env-reader.js';
import { readAuthConfig, type AuthConfig } from './auth-config.js';
import { readLambdaConfig, type LambdaConfig } from './lambda-config.js';
import { readQueueConfig, type QueueConfig } from './queue-config.js';
import { readRedisConfig, type RedisConfig, type RedisTopology } from './redis-config.js';
import { readSecretRefs, type SecretRef } from './secret-refs.js';
import { readServerConfig, type ServerConfig } from './server-config.js';
import { readSqsConfig, type SqsConfig } from './sqs-config.js';
import { ConfigError } from './config-error.js';
import { checkAuthRequirements, checkedSecret, checkRuntimeRequirements, checkSourceRequirements, requireRedisTopology } from './requirements.js';
import type { Runtime } from './setting.js';

export { ConfigError } from './config-error.js';
export { AUTH_DEFAULTS, CONFIG_DEFAULTS, FIXED_SETTINGS, LAMBDA_DEFAULTS, QUEUE_DEFAULTS, REDIS_DEFAULTS, SERVER_DEFAULTS, SQS_DEFAULTS } from './defaults.js';
export { renderConfigTable } from './readme-table.js';
export type { Env } from './env-reader.js';
export type { AuthConfig, LambdaConfig, QueueConfig, RedisConfig, ServerConfig, SqsConfig };
export type { CompressionMode, SourceMode } from './defaults.js';
export type { RedisTopology } from './redis-config.js';
export type { Runtime } from './setting.js';
export { checkedSecret, requireJwtKeys, requireRedisTopology, requireSqsQueues, type JwtKeys } from './requirements.js';
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
   * Secrets named rather than given (AUTH_JWT_SECRET_FROM, REDIS_URL_FROM, REDIS_PASSWORD_FROM). The entry points read them before
   * loadConfig (functions/resolve-secrets.ts), so after that step this is empty and the values are in their variables.
   */
  secretRefs: SecretRef[];
}

/**
 * Reads and checks the whole configuration once, at start. Pure: the environment is an argument. Throws a ConfigError
 * naming the first variable that is malformed or missing for the chosen mode.
 *
 * @param runtime `lambda` (the function-URL handlers) takes the Lambda defaults (SERVER_DEFAULTS, SQS_WAIT_SECONDS, REDIS_BLOCK_MS) and requires
 * QUEUE_ACK=client for queue sources; `container` (default) is the server and the CLI.
 */
export function loadConfig(env: Env, runtime: Runtime = 'container'): Config {
  const reader = new EnvReader(env);
  const server = readServerConfig(reader, runtime);
  const config: Config = {
    server,
    redis: readRedisConfig(reader, runtime),
    sqs: readSqsConfig(reader, runtime),
    queue: readQueueConfig(reader, runtime),
    auth: readAuthConfig(reader, server.demo),
    lambda: readLambdaConfig(reader),
    secretRefs: readSecretRefs(reader),
  };
  checkSourceRequirements(config.server, config.redis, config.sqs);
  checkAuthRequirements(config.auth);
  checkRuntimeRequirements(config.server, config.queue, runtime, config.lambda);
  return config;
}

/**
 * The HS256 secret the CLI's `token` command signs with: AUTH_JWT_SECRET, under the relay's own rule (32 bytes or
 * more). Throws a ConfigError naming AUTH_JWT_SECRET when it is unset or too short.
 */
export function loadSigningSecret(env: Env): string {
  const secret = new EnvReader(env).optionalString('AUTH_JWT_SECRET');
  if (secret === undefined) throw new ConfigError('AUTH_JWT_SECRET', 'set in the environment to sign tokens (the relay\'s own HS256 secret, at least 32 bytes)', '');
  return checkedSecret(secret);
}

/** What the SQS → Redis bridge (functions/ingest.ts) runs on: a Redis topology whatever SOURCE says, and no auth. */
export interface BridgeConfig {
  redis: RedisConfig;
  /** Where the streams are appended; required (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES). */
  target: RedisTopology;
  /** Topic of records without a `topic` attribute (INGEST_TOPIC). */
  ingestTopic: string | undefined;
  /** Largest message `data` appended (MAX_MESSAGE_BYTES); larger records fail. */
  maxMessageBytes: number;
  logLevel: string;
}

/**
 * The bridge's configuration: the server, Redis and SQS variables are read and checked as by loadConfig, but the
 * bridge serves no request, so nothing about auth or the chosen SOURCE is required of it; a Redis topology is.
 */
export function loadBridgeConfig(env: Env): BridgeConfig {
  const reader = new EnvReader(env);
  const server = readServerConfig(reader, 'lambda');
  const redis = readRedisConfig(reader);
  const sqs = readSqsConfig(reader);
  readSecretRefs(reader);
  const target = requireRedisTopology(redis, 'the SQS → Redis bridge');
  return { redis, target, ingestTopic: sqs.ingestTopic, maxMessageBytes: server.maxMessageBytes, logLevel: server.logLevel };
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
