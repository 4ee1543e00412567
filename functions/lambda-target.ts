import type { LambdaTarget, TargetLoader } from '../lib/adapters/lambda.js';
import { loadConfig, SERVER_DEFAULTS, type Env } from '../lib/config/index.js';
import { startDemoPublisher } from '../lib/demo/demo-publisher.js';
import { Metrics } from '../lib/metrics.js';
import { RelayApp } from '../lib/http/relay-app.js';
import { buildAuthorizer } from './build-authorizer.js';
import { buildSource } from './build-source.js';
import { InvocationScope } from './lambda-invocations.js';
import { createLogger } from './logger.js';
import { loadWithSecrets } from './resolve-secrets.js';

// Beyond the last read's wait, what settling a queue source may take: its releases' round trips.
const SETTLE_SLACK_MS = 3_000;

/**
 * What a Lambda sandbox serves, built from `env` once per cold start and kept across its invocations (one RelayApp,
 * one hub, one source connection). The build starts at once, during the init phase; if it fails (say a configuration
 * error) each invocation answers 500 and the build is tried again on the next one, with the cause in the log: a JSON
 * logger at the default LOG_LEVEL, since the configured one is not known until the configuration loads.
 */
export function lambdaTargetLoader(env: Env): TargetLoader {
  let building: Promise<LambdaTarget> | undefined;
  const load = (): Promise<LambdaTarget> => {
    building ??= buildTarget(env).catch((error: unknown) => {
      building = undefined;
      throw error;
    });
    return building;
  };
  // Started eagerly; a failure is reported by the invocation that awaits it, not as an unhandled rejection here.
  load().catch(() => undefined);
  return { load, logger: createLogger(SERVER_DEFAULTS.LOG_LEVEL.value) };
}

async function buildTarget(env: Env): Promise<LambdaTarget> {
  // Secrets named by the *_FROM variables (AUTH_JWT_SECRET_FROM, REDIS_URL_FROM, REDIS_PASSWORD_FROM) are read here, once per sandbox, and kept in memory only.
  // Lambda defaults (SESSION_IDLE_MS, MAX_SESSION_MS) and QUEUE_ACK=client for queue sources: see SERVER_DEFAULTS.
  const config = await loadWithSecrets(env, (resolved) => loadConfig(resolved, 'lambda'));
  const metrics = new Metrics();
  const invocations = new InvocationScope(env, metrics);
  const logger = createLogger(config.server.logLevel, undefined, invocations.logFields);
  const source = await buildSource(config, { logger, metrics });
  // Queue sources give messages back when a stream ends; that must reach the queue before the sandbox freezes. It takes
  // at most the last read's wait and a round trip or two; beyond that the source is unreachable and waiting is no use.
  const settle = source.delivery === 'queue' ? source.settle?.bind(source) : undefined;
  const settleMs = (config.server.source === 'sqs' ? config.sqs.waitSeconds * 1_000 : config.redis.blockMs) + SETTLE_SLACK_MS;
  // A function URL decompresses a streamed response and drops its Content-Encoding
  // (aws/aws-lambda-nodejs-runtime-interface-client#96), and FLUSH_PADDING_BYTES would compress away: never gzip here.
  if (config.server.compression !== 'off') logger.warn({ variable: 'COMPRESSION' }, 'COMPRESSION is ignored on Lambda: a function URL serves streams uncompressed');
  const app = new RelayApp({ config: { ...config.server, compression: 'off' }, queue: config.queue, source, logger, metrics, authorizer: await buildAuthorizer(config, logger) });
  // Memory source only: the demo publisher lives in this sandbox, so only streams served by it see its events.
  if (config.server.demo) startDemoPublisher(source, logger);
  return {
    app, logger, invocations,
    ...(settle === undefined ? {} : { settle, settleMs }),
    deadlineMarginMs: config.lambda.deadlineMarginMs,
    flushPaddingBytes: config.lambda.flushPaddingBytes,
    maxResponseBytes: config.lambda.maxResponseBytes,
  };
}
