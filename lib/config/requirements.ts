import { ConfigError } from './config-error.js';
import type { AuthConfig } from './auth-config.js';
import { LAMBDA_RESPONSE_LIMIT_BYTES, type LambdaConfig } from './lambda-config.js';
import type { QueueConfig } from './queue-config.js';
import type { RedisConfig, RedisTopology } from './redis-config.js';
import type { ServerConfig } from './server-config.js';
import type { Runtime } from './setting.js';
import type { SqsConfig } from './sqs-config.js';
import { isQueueUrlTemplate, isTemplateTopic, longestTemplateTopic, QUEUE_URL_TEMPLATE_FORM } from '../sources/sqs/queue-urls.js';

// The checks that span variables: what a mode, a runtime or an entry point requires. Each rule is written once here;
// the entry points ask (requireRedisTopology) instead of checking for themselves.

/**
 * The Redis topology, required by `purpose` (`SOURCE=redis`, `the SQS → Redis bridge`). Throws a ConfigError naming
 * REDIS_URL and the other two ways to set it when none is set.
 */
export function requireRedisTopology(redis: RedisConfig, purpose: string): RedisTopology {
  if (redis.topology !== undefined) return redis.topology;
  const others = 'or set REDIS_SENTINELS with REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES';
  throw new ConfigError('REDIS_URL', `set for ${purpose} (redis://host:6379 or rediss://user:pass@host:6380, or REDIS_URL_FROM), ${others}`, '');
}

/**
 * Where SOURCE=sqs reads: one queue per topic when SQS_QUEUE_URL_TEMPLATE is set (it takes precedence), else the one
 * SQS_QUEUE_URL; `topics` are SQS_QUEUE_TOPICS (undefined: any). Throws a ConfigError naming SQS_QUEUE_URL when neither
 * is set.
 */
export function requireSqsQueues(sqs: SqsConfig): ({ kind: 'shared'; url: string } | { kind: 'per-topic'; template: string }) & { topics: readonly string[] | undefined } {
  const topics = sqs.queueTopics;
  if (sqs.queueUrlTemplate !== undefined) return { kind: 'per-topic', template: sqs.queueUrlTemplate, topics };
  if (sqs.queueUrl !== undefined) return { kind: 'shared', url: sqs.queueUrl, topics };
  throw new ConfigError('SQS_QUEUE_URL', 'set for SOURCE=sqs (or SQS_QUEUE_URL_TEMPLATE containing {topic})', '');
}

/** What the chosen source needs: a Redis topology that serves it, or an SQS queue. */
export function checkSourceRequirements(server: ServerConfig, redis: RedisConfig, sqs: SqsConfig): void {
  const mode = server.source;
  if (mode === 'redis' || mode === 'redis-list') requireRedisTopology(redis, `SOURCE=${mode}`);
  if (mode === 'sqs') requireSqsQueues(sqs);
  if (sqs.queueUrlTemplate !== undefined) checkQueueUrlTemplate(sqs.queueUrlTemplate, sqs.queueTopics);
  // A shared queue's URL with {topic} in it names a queue SQS cannot have ({ and } are not allowed in queue names).
  if (sqs.queueUrl?.includes('{topic}') === true) {
    throw new ConfigError('SQS_QUEUE_URL', 'one queue\'s URL, without {topic} (for one queue per topic set SQS_QUEUE_URL_TEMPLATE instead)', sqs.queueUrl);
  }
}

// The template itself, and SQS_QUEUE_TOPICS against it: a listed topic that cannot name a queue would be refused on
// every stream and publish, so it is a configuration error at start instead.
function checkQueueUrlTemplate(template: string, topics: readonly string[] | undefined): void {
  if (!isQueueUrlTemplate(template)) throw new ConfigError('SQS_QUEUE_URL_TEMPLATE', QUEUE_URL_TEMPLATE_FORM, template);
  const longest = longestTemplateTopic(template);
  if (longest < 1) throw new ConfigError('SQS_QUEUE_URL_TEMPLATE', `${QUEUE_URL_TEMPLATE_FORM}, whose queue name leaves room for a topic (at most 80 characters in all)`, template);
  const bad = topics?.find((topic) => !isTemplateTopic(template, topic));
  if (bad !== undefined) {
    throw new ConfigError('SQS_QUEUE_TOPICS', `topics that can name a queue with SQS_QUEUE_URL_TEMPLATE: letters, digits, - and _ only, at most ${longest} characters`, bad);
  }
}

/** The keys of AUTH_MODE=jwt: an HS256 secret, a JWKS URL, or both; never neither. */
export type JwtKeys = { secret: string; jwksUrl: string | undefined } | { secret: undefined; jwksUrl: string };

/** The JWT keys (AUTH_MODE=jwt needs one); throws a ConfigError naming AUTH_JWT_SECRET when neither is set. */
export function requireJwtKeys(auth: AuthConfig): JwtKeys {
  const { jwtSecret: secret, jwksUrl } = auth;
  if (secret !== undefined) return { secret: checkedSecret(secret), jwksUrl };
  if (jwksUrl !== undefined) return { secret: undefined, jwksUrl };
  throw new ConfigError('AUTH_JWT_SECRET', 'set for AUTH_MODE=jwt (or set AUTH_JWKS_URL, or AUTH_MODE=none to turn auth off)', '');
}

/** `secret` as an HS256 key: at least 32 bytes (the relay's and the CLI's `token` command's one rule). */
export function checkedSecret(secret: string): string {
  if (Buffer.byteLength(secret) < 32) throw new ConfigError('AUTH_JWT_SECRET', 'at least 32 bytes long (HS256 needs a key as long as its hash)', '(hidden)');
  return secret;
}

/** A key for AUTH_MODE=jwt, and a secret long enough for HS256 whenever one is set. */
export function checkAuthRequirements(auth: AuthConfig): void {
  if (auth.mode === 'jwt') requireJwtKeys(auth);
  else if (auth.jwtSecret !== undefined) checkedSecret(auth.jwtSecret);
}

/**
 * Room kept under Lambda's response limit beside one connection's queue, bytes: the closing frames (position, `retry:`)
 * and the flush padding after each of the last batches (FLUSH_PADDING_BYTES is at most 64 KiB).
 */
const CLOSING_HEADROOM_BYTES = 262_144;

/**
 * METRICS_PORT must not take the main port; WORKERS only where it works; on Lambda, queue sources need QUEUE_ACK=client,
 * and the response budget leaves room under the 200 MB limit for what follows it.
 */
export function checkRuntimeRequirements(server: ServerConfig, queue: QueueConfig, runtime: Runtime, lambda?: LambdaConfig): void {
  if (server.metricsPort !== undefined && server.metricsPort !== 0 && server.metricsPort === server.port) {
    throw new ConfigError('METRICS_PORT', `a port other than PORT (${server.port}), or unset to serve /metrics on PORT`, String(server.metricsPort));
  }
  checkWorkers(server);
  // Lambda never reports a client that left, so only the browser's POST /ack can confirm a queue delivery there.
  if (runtime === 'lambda' && (server.source === 'redis-list' || server.source === 'sqs') && queue.ack !== 'client') {
    throw new ConfigError('QUEUE_ACK', `client on Lambda with SOURCE=${server.source} (Lambda cannot see a browser leave, so only the browser's POST /ack can confirm a delivery)`, queue.ack);
  }
  if (runtime === 'lambda' && lambda !== undefined) checkResponseBudget(lambda.maxResponseBytes, server.connectionBufferBytes);
}

// Once the budget is spent, what a stream has queued still goes out before its end: up to CONNECTION_BUFFER_BYTES (a
// replay is one such queue), so the two together must stay under the limit or Lambda cuts the response mid-frame.
function checkResponseBudget(budget: number, bufferBytes: number): void {
  const most = LAMBDA_RESPONSE_LIMIT_BYTES - bufferBytes - CLOSING_HEADROOM_BYTES;
  if (budget > most) {
    throw new ConfigError('LAMBDA_MAX_RESPONSE_BYTES', `at most ${most} on Lambda with CONNECTION_BUFFER_BYTES=${bufferBytes}: a stream may still write one connection buffer after its budget, and the whole must stay under the ${LAMBDA_RESPONSE_LIMIT_BYTES}-byte limit of a streamed response (lower one of the two)`, String(budget));
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
