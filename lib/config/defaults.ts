import { noDefault, setting, type SettingTable } from './setting.js';

export const SOURCE_MODES = ['memory', 'redis', 'redis-list', 'sqs'] as const;
export type SourceMode = (typeof SOURCE_MODES)[number];
export const COMPRESSION_MODES = ['off', 'gzip'] as const;
export type CompressionMode = (typeof COMPRESSION_MODES)[number];

// Every default of every variable, once, with its one-line meaning; the README's configuration table is rendered from
// these objects in this order (`npm run docs:config`). The readers (server-config.ts, …) hold the bounds and the rules.

/** HTTP server, sessions and limits, shared by every runtime. */
export const SERVER_DEFAULTS = {
  PORT: setting(8080, 'TCP port of the container server'),
  HOST: setting('0.0.0.0', 'address to listen on'),
  SOURCE: setting<SourceMode>('memory', '`memory`, `redis`, `redis-list` or `sqs`'),
  // npm start sets DEMO=true (package.json), so the quick start shows events without a token.
  DEMO: setting(false, 'run the demo publisher (topic `demo`) and default auth to off', { note: '`true` under `npm start`' }),
  LOG_LEVEL: setting('info', '`fatal` `error` `warn` `info` `debug` `trace` `silent`'),
  // Below the 60 s idle cut of nginx and load balancers.
  HEARTBEAT_MS: setting(15_000, 'ms between heartbeat comments; keep it under the idle cut of proxies (nginx here: 1 h, load balancers often 60 s) and under a third of `RelayClient`\'s `idleTimeoutMs` (45 s), or quiet streams are cut and reopened'),
  RETRY_MS: setting(2_000, 'ms, the `retry:` sent first on every stream (jittered per stream over × [0.5, 1.5))'),
  // Lambda: its 15-minute cap; the invocation deadline (less LAMBDA_DEADLINE_MARGIN_MS) ends streams earlier.
  MAX_SESSION_MS: setting<number>(1_800_000, 'ms a stream stays open at most (up to 10% less, at random) before it ends with `retry:`', { lambda: 900_000 }),
  // Lambda: an abandoned tab holds an invocation at most a minute on a quiet topic; a present browser resumes at once.
  SESSION_IDLE_MS: setting<number>(0, 'ms without an event after which a stream ends (Lambda: see docs/lambda.md)', { note: 'off', lambda: 60_000 }),
  MEMORY_BUFFER_SIZE: setting(1_000, 'messages kept per topic by the memory source'),
  MEMORY_MAX_BYTES: setting(67_108_864, 'bytes the memory source keeps in all, every topic together (data, plus about 320 per message and 1024 per topic); past it the oldest messages of any topic go first'),
  REPLAY_MAX: setting(1_000, 'most messages replayed per topic on a reconnect'),
  CONNECTION_BUFFER_BYTES: setting(1_048_576, 'bytes that may wait for one connection before it is cut off as a slow consumer'),
  MAX_BODY_BYTES: setting(131_072, 'largest `POST /publish` body'),
  MAX_BODY_BYTES_IN_FLIGHT: setting(67_108_864, 'bytes of request bodies (`POST /publish`, `POST /ack`) one process holds at once while they arrive; counted as they arrive; a body that would go past it gets 503 `too_many_bodies` (container)'),
  MAX_MESSAGE_BYTES: setting(65_536, 'largest message `data` (UTF-8 bytes)'),
  MAX_TOPICS: setting(16, 'most topics in one subscription (fewer when their names are long: a stream\'s resume id must fit 8192 characters, about 47 topics of 128)'),
  MAX_CONNECTIONS: setting(10_000, 'most open streams per process (then 503)'),
  MAX_CONNECTIONS_PER_CLIENT: setting(100, 'most open streams per client address, an IPv6 client counted by its /64 (then 429)'),
  TRUST_PROXY: setting(false, 'take the client address for per-client limits from the last `X-Forwarded-For` hop (set it behind nginx or an ingress)'),
  PUBLISH_RATE_PER_MINUTE: setting(600, 'publishes per minute per token (or client address); `0` = unlimited'),
  // A browser's acknowledgements find their messages; only made-up or very late ids miss.
  ACK_MISSES_PER_MINUTE: setting(600, 'ids per minute per token (or client address) that `POST /ack` sent to the source and that removed nothing there (made up, or acknowledged already); past it the token\'s acknowledgements that need the source get 429 until the budget refills; `0` = unlimited'),
  SHUTDOWN_DRAIN_MS: setting(10_000, 'ms, the shortest window over which streams are closed on SIGTERM (it grows to connections ÷ `DRAIN_RATE_PER_S`); see [docs/scaling.md](docs/scaling.md)'),
  REQUEST_TIMEOUT_MS: setting(30_000, 'ms within which a request\'s headers and whole body must arrive (then 408 and the connection closes), and within which the client must take an answer that is not a stream (then the connection closes); streams are unaffected once their headers are sent'),
  METRICS_PORT: noDefault('port of a separate listener that serves only `GET /metrics`; the main port then answers 404 for it (the k8s manifests use `9090`)', 'on `PORT`'),
  METRICS_TOPICS_TOP_N: setting(0, 'topics that get their own `sse_topic_subscribers{topic}` series: the N with the most open streams (topic names become label values)', { note: 'off' }),
  // Measured: see docs/scaling.md.
  DRAIN_RATE_PER_S: setting(250, 'most streams closed per second while draining, so the instances taking the clients over get their reconnects at that rate at most'),
  // Node's own is 511, which overflows when a drained pod's clients all arrive at once (issue #19).
  LISTEN_BACKLOG: setting(4_096, 'kernel accept queue asked for in `listen()` (capped by `net.core.somaxconn`; Node\'s default is 511)'),
  OVERLOAD_LAG_MS: setting(1_000, 'new streams are refused (`overloaded`) while the event loop lags more than this, ms; `0` = never'),
  // A quarter of the container's limit is left for what this does not count: code, stacks, the allocator's own.
  OVERLOAD_MEMORY_BYTES: setting<number | 'auto'>('auto', 'bytes of memory in use (V8\'s heap in use plus Buffers: queued frames) above which new streams are refused (`overloaded`) and the streams with the largest backlogs are cut, largest first, until the excess is let go (each resumes from its last id); `auto`: 75 % of the container\'s memory limit (cgroup), divided between `WORKERS`, and off where there is no limit; `0` = never; see [Memory](docs/scaling.md#memory-under-pressure)'),
  ADMISSION_RATE_PER_S: setting(0, 'most new streams accepted per second per process; beyond it new streams are refused (`overloaded`)', { note: 'no bound' }),
  WORKERS: setting(1, 'server processes sharing `PORT` (node:cluster), or `auto` (one per available CPU); only for `redis`, `redis-list`, `sqs` (`memory` is refused: its state is per process), needs `METRICS_PORT` (the primary serves every worker\'s metrics, summed); limits such as `MAX_CONNECTIONS` apply per worker; see [Several workers](docs/scaling.md#several-workers-on-one-machine)'),
  // Off: a proxy in front (nginx, a CDN) may compress already; Lambda ignores it (a function URL undoes the coding).
  COMPRESSION: setting<CompressionMode>('off', '`gzip`: streams are gzip-encoded for clients that send `Accept-Encoding: gzip`, each shared frame compressed once for all streams (container only; see [Compression](#compression))'),
} as const satisfies SettingTable;

/** Redis, for SOURCE=redis and redis-list and for the SQS → Redis bridge. */
export const REDIS_DEFAULTS = {
  REDIS_URL: noDefault('`redis://[user:password@]host:port[/db]` or `rediss://…` (TLS): one server; `redis`, `redis-list` need it or one of the next two'),
  REDIS_URL_FROM: noDefault('instead of `REDIS_URL`: its name in SSM Parameter Store or Secrets Manager, as for `AUTH_JWT_SECRET_FROM`'),
  REDIS_SENTINELS: noDefault('`host:port,…` of Redis Sentinels: follow the primary they name (see [docs/redis.md](docs/redis.md#topologies))'),
  REDIS_SENTINEL_NAME: noDefault('the primary\'s name in Sentinel (`mymaster`); required with `REDIS_SENTINELS`'),
  REDIS_CLUSTER_NODES: noDefault('`host:port,…` of some Redis Cluster nodes (`redis` and `redis-list`)'),
  REDIS_USERNAME: noDefault('ACL user for Sentinel-managed or Cluster nodes (a `REDIS_URL` carries its own)'),
  REDIS_PASSWORD: noDefault('password for Sentinel-managed or Cluster nodes'),
  REDIS_PASSWORD_FROM: noDefault('instead of `REDIS_PASSWORD`: its name in SSM Parameter Store or Secrets Manager, as for `AUTH_JWT_SECRET_FROM`'),
  REDIS_TLS: setting(false, 'TLS to Sentinel-managed or Cluster nodes (and to the sentinels); with `REDIS_URL` write `rediss://` instead (`true` beside `redis://` is refused)'),
  REDIS_SENTINEL_PASSWORD: noDefault('password of the sentinels themselves, when they require one; with `REDIS_SENTINELS` only (refused beside `REDIS_URL` or `REDIS_CLUSTER_NODES`)'),
  REDIS_CLUSTER_PARTITIONS: setting(16, 'cluster: topics are grouped into this many hash-tagged partitions, one blocking reader each; the same in every process and producer (the first records it in `<prefix>#cluster-partitions`; a relay with another count answers 503 and logs the count to use); with `REDIS_CLUSTER_NODES` only (refused beside `REDIS_URL` or `REDIS_SENTINELS`)'),
  REDIS_KEY_PREFIX: setting('sse:', 'prefix of every key sse-relay writes; without `{` or `}` in a Redis Cluster (sse-relay adds its own hash tags)'),
  REDIS_MAXLEN: setting(10_000, 'approximate entries kept per stream (`XADD … MAXLEN ~`)'),
  REDIS_BLOCK_MS: setting(5_000, 'ms, bound of every blocking read; on Lambda a redis-list stream\'s invocation waits for its last one before the sandbox freezes', { lambda: 2_000 }),
  REDIS_WAIT_REPLICAS: setting(0, 'a publish answers 202 only once this many replicas have it (`WAIT`); else 503 `not_replicated`'),
  REDIS_WAIT_TIMEOUT_MS: setting(1_000, 'ms a publish waits for those replicas'),
  REDIS_STREAM_TTL_S: setting(86_400, 'seconds after the last append at which a stream key expires (every `XADD` renews it); `0` = never — see [docs/redis.md](docs/redis.md#memory)'),
} as const satisfies SettingTable;

/** Amazon SQS, for SOURCE=sqs and the bridge. Credentials come from the AWS default provider chain. */
export const SQS_DEFAULTS = {
  SQS_QUEUE_URL: noDefault('one queue for every topic (required for `sqs` unless the template is set)'),
  SQS_QUEUE_URL_TEMPLATE: noDefault('queue URL with `{topic}` in it, one queue per topic'),
  SQS_QUEUE_TOPICS: noDefault('comma-separated topics the queues serve; a stream or publish naming another gets `400 invalid_topic` before any queue is read (see [docs/sqs.md](docs/sqs.md#topics-and-queues))', 'any topic'),
  SQS_WAIT_SECONDS: setting(5, 'long-poll wait of each receive (0–20; 0 is short polling, with at most one empty receive a second; 1 once the process drains, so its last receive is answered before it exits); on Lambda a stream\'s invocation waits for its last receive before the sandbox freezes (see [docs/lambda.md](docs/lambda.md#queue-mode))', { lambda: 2 }),
  SQS_VISIBILITY_TIMEOUT_S: setting(30, 'visibility timeout of received messages, seconds'),
  INGEST_TOPIC: noDefault('bridge (`functions/ingest.ts`): topic of SQS records without a `topic` message attribute'),
  SQS_ENDPOINT: noDefault('endpoint override (VPC endpoint, emulator)'),
  AWS_REGION: noDefault('AWS region; unset, the relay signs for the region its queue URL names (`sqs.<region>.amazonaws.com`)', 'the queue URL\'s, else SDK default chain'),
} as const satisfies SettingTable;

/** How queue sources decide that a message was delivered. */
export const QUEUE_DEFAULTS = {
  QUEUE_ACK: setting<'auto' | 'client'>('auto', 'queue sources: `auto` acknowledges a message once its frame was accepted by the open socket; `client` holds it until the browser sends `POST /ack` (required on Lambda) — see [docs/queues.md](docs/queues.md)'),
  QUEUE_ACK_TIMEOUT_MS: setting(30_000, '`QUEUE_ACK=client`: a message not acknowledged within this many ms is released and its stream ends with `retry:`'),
  QUEUE_PREFETCH: setting(10, '`QUEUE_ACK=client`: most unacknowledged messages in flight per stream'),
  // A browser acknowledges what it read a round trip after the read; the server's end of a stream comes after the frames.
  QUEUE_ACK_GRACE_MS: setting(2_000, '`QUEUE_ACK=client`: when the server ends a stream (session end, drain), what its browser has not acknowledged yet stays held this many ms more, so acknowledgements on their way still remove their messages instead of meeting a redelivery; container only (Lambda releases at once)'),
  QUEUE_ACK_URL: noDefault('`QUEUE_ACK=client`: where browsers send `POST /ack`, told to them in the `sse-ack-url` header of each queue stream (`RelayClient` follows it unless given `ackUrl`); serverless.yml sets the publish function\'s URL, so acknowledgements never wait for an execution of the stream function', 'next to `/events`'),
  QUEUE_SETTLE_MS: setting(0, '`QUEUE_ACK=auto`: when above 0, a message is removed only once the connection stayed open this many ms after its frame was written, and released if the client closes first (it discarded what it had not read): fewer losses, a duplicate per message written in that time before each close — see [docs/queues.md](docs/queues.md)'),
} as const satisfies SettingTable;

/** Who may subscribe and publish, and from which origins. */
export const AUTH_DEFAULTS = {
  // The demo takes `none` instead, but only when no key is configured (auth-config.ts): a configured key turns auth on.
  AUTH_MODE: setting<'jwt' | 'none'>('jwt', '`jwt` or `none`; `none` must be chosen explicitly — a configured key turns auth on in every mode; see [docs/security.md](docs/security.md)', { note: '`none` in demo mode when no secret or JWKS URL is set' }),
  AUTH_JWT_SECRET: noDefault('HS256 secret, at least 32 bytes'),
  AUTH_JWT_SECRET_FROM: noDefault('instead of `AUTH_JWT_SECRET`: its name, `ssm:/parameter/name` (a SecureString) or `secretsmanager:name` (or the ARN), read once at start'),
  AUTH_JWKS_URL: noDefault('JWKS URL for RS256/ES256 tokens; `https:` (plain `http:` only for loopback)'),
  AUTH_ALLOW_NO_EXP: setting(false, 'accept tokens without an `exp` claim (long-lived publisher tokens); otherwise they get 401'),
  AUTH_AUDIENCE: noDefault('required `aud` claim'),
  AUTH_ISSUER: noDefault('required `iss` claim'),
  CORS_ORIGINS: noDefault('comma-separated exact origins allowed cross-origin', 'none'),
} as const satisfies SettingTable;

/** Settings only the Lambda function URLs use. */
export const LAMBDA_DEFAULTS = {
  LAMBDA_DEADLINE_MARGIN_MS: setting(5_000, 'Lambda: a stream ends this long before the invocation deadline; at least `1500` (the deadline is checked every second)'),
  FLUSH_PADDING_BYTES: setting(0, 'Lambda: comment padding that pushes small writes through the function URL, 2–65536 bytes', { note: 'off' }),
  // 180 MiB: the rest of Lambda's 200 MB is headroom for the frames of the turn in which the budget runs out.
  LAMBDA_MAX_RESPONSE_BYTES: setting(180 * 1_048_576, 'Lambda: a stream ends itself (position, then `retry:`) after writing this many bytes, below the 200 MB limit of a streamed response', { note: '180 MiB' }),
} as const satisfies SettingTable;

/**
 * Fixed settings: no variable sets them, but they are defaults all the same, so they live here rather than in the
 * sources that use them (functions/ passes them on).
 */
export const FIXED_SETTINGS = {
  /** How long a publish idempotency key is remembered by the Redis sources, seconds (one day). */
  redisIdempotencyTtlSeconds: 86_400,
  /** Longest an SQS ack or release waits for others before its batch request leaves, ms. */
  sqsBatchFlushMs: 20,
} as const;

/** Every area, in the order of the README's configuration table. */
export const CONFIG_DEFAULTS: readonly SettingTable[] = [SERVER_DEFAULTS, REDIS_DEFAULTS, SQS_DEFAULTS, QUEUE_DEFAULTS, AUTH_DEFAULTS, LAMBDA_DEFAULTS];
