import { describe, expect, it } from '@jest/globals';
import { CONFIG_DEFAULTS, CONFIG_VARIABLES, ConfigError, loadBridgeConfig, loadConfig, loadSigningSecret, requireJwtKeys, type Env } from '../../lib/config/index.js';

const SECRET = 'x'.repeat(32);
/** For each variable: a valid value, the config path it lands in and the expected value, and a malformed value. */
const CASES: Record<string, { valid: string; read: (c: ReturnType<typeof loadConfig>) => unknown; expected: unknown; invalid?: string; env?: Env }> = {
  PORT: { valid: '9000', read: (c) => c.server.port, expected: 9000, invalid: '70000' },
  HOST: { valid: '127.0.0.1', read: (c) => c.server.host, expected: '127.0.0.1' },
  SOURCE: { valid: 'memory', read: (c) => c.server.source, expected: 'memory', invalid: 'kafka' },
  DEMO: { valid: 'true', read: (c) => c.server.demo, expected: true, invalid: 'maybe' },
  LOG_LEVEL: { valid: 'debug', read: (c) => c.server.logLevel, expected: 'debug', invalid: 'loud' },
  HEARTBEAT_MS: { valid: '5000', read: (c) => c.server.heartbeatMs, expected: 5000, invalid: '15s' },
  RETRY_MS: { valid: '0', read: (c) => c.server.retryMs, expected: 0, invalid: '-1' },
  MAX_SESSION_MS: { valid: '60000', read: (c) => c.server.maxSessionMs, expected: 60000, invalid: '1.5' },
  SESSION_IDLE_MS: { valid: '30000', read: (c) => c.server.sessionIdleMs, expected: 30000, invalid: 'never' },
  MEMORY_BUFFER_SIZE: { valid: '10', read: (c) => c.server.memoryBufferSize, expected: 10, invalid: '0' },
  MEMORY_MAX_BYTES: { valid: '2097152', read: (c) => c.server.memoryMaxBytes, expected: 2097152, invalid: '65536' },
  REPLAY_MAX: { valid: '50', read: (c) => c.server.replayMax, expected: 50, invalid: 'all' },
  CONNECTION_BUFFER_BYTES: { valid: '65536', read: (c) => c.server.connectionBufferBytes, expected: 65536, invalid: '1' },
  MAX_BODY_BYTES: { valid: '1024', read: (c) => c.server.maxBodyBytes, expected: 1024, invalid: '1e6' },
  MAX_BODY_BYTES_IN_FLIGHT: { valid: '1048576', read: (c) => c.server.maxBodyBytesInFlight, expected: 1_048_576, invalid: '100' },
  MAX_MESSAGE_BYTES: { valid: '512', read: (c) => c.server.maxMessageBytes, expected: 512, invalid: '0' },
  MAX_TOPICS: { valid: '4', read: (c) => c.server.maxTopics, expected: 4, invalid: '0' },
  MAX_CONNECTIONS: { valid: '100', read: (c) => c.server.maxConnections, expected: 100, invalid: 'lots' },
  MAX_CONNECTIONS_PER_CLIENT: { valid: '5', read: (c) => c.server.maxConnectionsPerClient, expected: 5, invalid: '0' },
  TRUST_PROXY: { valid: 'true', read: (c) => c.server.trustProxy, expected: true, invalid: 'sometimes' },
  PUBLISH_RATE_PER_MINUTE: { valid: '0', read: (c) => c.server.publishRatePerMinute, expected: 0, invalid: '-5' },
  ACK_MISSES_PER_MINUTE: { valid: '60', read: (c) => c.server.ackMissesPerMinute, expected: 60, invalid: 'lots' },
  SHUTDOWN_DRAIN_MS: { valid: '2000', read: (c) => c.server.shutdownDrainMs, expected: 2000, invalid: '10 s' },
  REQUEST_TIMEOUT_MS: { valid: '5000', read: (c) => c.server.requestTimeoutMs, expected: 5000, invalid: '50' },
  METRICS_PORT: { valid: '9090', read: (c) => c.server.metricsPort, expected: 9090, invalid: '70000' },
  METRICS_TOPICS_TOP_N: { valid: '10', read: (c) => c.server.metricsTopicsTopN, expected: 10, invalid: '101' },
  DRAIN_RATE_PER_S: { valid: '250', read: (c) => c.server.drainRatePerSecond, expected: 250, invalid: '0' },
  LISTEN_BACKLOG: { valid: '8192', read: (c) => c.server.listenBacklog, expected: 8192, invalid: 'deep' },
  OVERLOAD_LAG_MS: { valid: '0', read: (c) => c.server.overloadLagMs, expected: 0, invalid: '-1' },
  ADMISSION_RATE_PER_S: { valid: '300', read: (c) => c.server.admissionRatePerSecond, expected: 300, invalid: '1.5' },
  OVERLOAD_MEMORY_BYTES: { valid: '268435456', read: (c) => c.server.overloadMemoryBytes, expected: 268_435_456, invalid: '1000' },
  QUEUE_ACK_GRACE_MS: { valid: '500', read: (c) => c.queue.graceMs, expected: 500, invalid: '70000' },
  WORKERS: { valid: '2', env: { SOURCE: 'redis', REDIS_URL: 'redis://a:6379', METRICS_PORT: '9090' }, read: (c) => c.server.workers, expected: 2, invalid: 'many' },
  COMPRESSION: { valid: 'gzip', read: (c) => c.server.compression, expected: 'gzip', invalid: 'br' },
  REDIS_URL: { valid: 'rediss://user:pw@cache:6380', read: (c) => c.redis.url, expected: 'rediss://user:pw@cache:6380', invalid: 'http://cache' },
  REDIS_KEY_PREFIX: { valid: 'app:', read: (c) => c.redis.keyPrefix, expected: 'app:' },
  REDIS_MAXLEN: { valid: '500', read: (c) => c.redis.maxLen, expected: 500, invalid: '0' },
  REDIS_BLOCK_MS: { valid: '1000', read: (c) => c.redis.blockMs, expected: 1000, invalid: '10' },
  REDIS_SENTINELS: {
    valid: '10.0.0.1:26379, [::1]:26380', env: { REDIS_SENTINEL_NAME: 'mymaster' }, invalid: '10.0.0.1',
    read: (c) => c.redis.topology, expected: { kind: 'sentinel', name: 'mymaster', sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '::1', port: 26380 }], sentinelPassword: undefined, auth: { username: undefined, password: undefined, tls: false } },
  },
  REDIS_SENTINEL_NAME: { valid: 'primary-1', env: { REDIS_SENTINELS: 'a:26379' }, read: (c) => c.redis.topology?.kind === 'sentinel' && c.redis.topology.name, expected: 'primary-1' },
  REDIS_SENTINEL_PASSWORD: { valid: 's3cret', env: { REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'm' }, read: (c) => c.redis.topology?.kind === 'sentinel' && c.redis.topology.sentinelPassword, expected: 's3cret' },
  REDIS_CLUSTER_NODES: {
    valid: 'node-1.cache:6379,node-2.cache:6380', invalid: 'node-1.cache:99999',
    read: (c) => c.redis.topology, expected: { kind: 'cluster', partitions: 16, nodes: [{ host: 'node-1.cache', port: 6379 }, { host: 'node-2.cache', port: 6380 }], auth: { username: undefined, password: undefined, tls: false } },
  },
  REDIS_CLUSTER_PARTITIONS: { valid: '64', env: { REDIS_CLUSTER_NODES: 'a:6379' }, read: (c) => c.redis.topology?.kind === 'cluster' && c.redis.topology.partitions, expected: 64, invalid: '0' },
  REDIS_USERNAME: { valid: 'relay', env: { REDIS_CLUSTER_NODES: 'a:6379' }, read: (c) => c.redis.topology?.kind === 'cluster' && c.redis.topology.auth.username, expected: 'relay' },
  REDIS_PASSWORD: { valid: 'pw', env: { REDIS_CLUSTER_NODES: 'a:6379' }, read: (c) => c.redis.topology?.kind === 'cluster' && c.redis.topology.auth.password, expected: 'pw' },
  REDIS_TLS: { valid: 'true', env: { REDIS_CLUSTER_NODES: 'a:6379' }, read: (c) => c.redis.topology?.kind === 'cluster' && c.redis.topology.auth.tls, expected: true, invalid: 'maybe' },
  REDIS_WAIT_REPLICAS: { valid: '1', read: (c) => c.redis.waitReplicas, expected: 1, invalid: '-1' },
  REDIS_WAIT_TIMEOUT_MS: { valid: '250', read: (c) => c.redis.waitTimeoutMs, expected: 250, invalid: '0' },
  REDIS_STREAM_TTL_S: { valid: '3600', read: (c) => c.redis.streamTtlSeconds, expected: 3600, invalid: '1d' },
  SQS_QUEUE_URL: { valid: 'https://sqs.eu-west-1.amazonaws.com/1/q', read: (c) => c.sqs.queueUrl, expected: 'https://sqs.eu-west-1.amazonaws.com/1/q', invalid: 'q' },
  SQS_QUEUE_URL_TEMPLATE: { valid: 'https://sqs/1/ev-{topic}', read: (c) => c.sqs.queueUrlTemplate, expected: 'https://sqs/1/ev-{topic}', invalid: 'https://sqs/1/ev' },
  SQS_QUEUE_TOPICS: { valid: 'orders, user:42', read: (c) => c.sqs.queueTopics, expected: ['orders', 'user:42'], invalid: 'orders,no spaces' },
  SQS_WAIT_SECONDS: { valid: '5', read: (c) => c.sqs.waitSeconds, expected: 5, invalid: '21' },
  SQS_VISIBILITY_TIMEOUT_S: { valid: '60', read: (c) => c.sqs.visibilityTimeoutSeconds, expected: 60, invalid: '0' },
  AWS_REGION: { valid: 'eu-west-1', read: (c) => c.sqs.region, expected: 'eu-west-1' },
  SQS_ENDPOINT: { valid: 'http://127.0.0.1:9324', read: (c) => c.sqs.endpoint, expected: 'http://127.0.0.1:9324', invalid: 'localhost' },
  INGEST_TOPIC: { valid: 'orders', read: (c) => c.sqs.ingestTopic, expected: 'orders', invalid: 'no spaces' },
  QUEUE_ACK: { valid: 'client', read: (c) => c.queue.ack, expected: 'client', invalid: 'manual' },
  QUEUE_ACK_TIMEOUT_MS: { valid: '5000', read: (c) => c.queue.ackTimeoutMs, expected: 5000, invalid: '999' },
  QUEUE_PREFETCH: { valid: '1', read: (c) => c.queue.prefetch, expected: 1, invalid: '0' },
  QUEUE_ACK_URL: { valid: 'https://pub.example/ack', read: (c) => c.queue.ackUrl, expected: 'https://pub.example/ack', invalid: 'ftp://pub.example/ack' },
  QUEUE_SETTLE_MS: { valid: '0', read: (c) => c.queue.settleMs, expected: 0, invalid: '60001' },
  AUTH_MODE: { valid: 'none', read: (c) => c.auth.mode, expected: 'none', invalid: 'basic' },
  AUTH_JWT_SECRET: { valid: SECRET, read: (c) => c.auth.jwtSecret, expected: SECRET, invalid: 'short', env: { AUTH_MODE: 'jwt' } },
  AUTH_JWKS_URL: { valid: 'https://id.example.com/jwks', read: (c) => c.auth.jwksUrl, expected: 'https://id.example.com/jwks', invalid: 'jwks' },
  AUTH_ALLOW_NO_EXP: { valid: 'true', read: (c) => c.auth.allowNoExp, expected: true, invalid: 'sometimes' },
  AUTH_AUDIENCE: { valid: 'relay', read: (c) => c.auth.audience, expected: 'relay' },
  AUTH_ISSUER: { valid: 'https://id', read: (c) => c.auth.issuer, expected: 'https://id' },
  CORS_ORIGINS: { valid: 'https://a.example, https://b.example', read: (c) => c.auth.corsOrigins, expected: ['https://a.example', 'https://b.example'] },
  // The floor sits above the hub's 1 s deadline tick, so the final retry: always leaves in time.
  LAMBDA_DEADLINE_MARGIN_MS: { valid: '1500', read: (c) => c.lambda.deadlineMarginMs, expected: 1500, invalid: '0' },
  FLUSH_PADDING_BYTES: { valid: '2048', read: (c) => c.lambda.flushPaddingBytes, expected: 2048, invalid: '100000' },
  LAMBDA_MAX_RESPONSE_BYTES: { valid: '4096', read: (c) => c.lambda.maxResponseBytes, expected: 4096, invalid: '200000000' },
  AUTH_JWT_SECRET_FROM: {
    valid: 'ssm:/sse-relay/prod/jwt-secret', read: (c) => c.secretRefs, invalid: 'vault:/jwt',
    expected: [{ from: 'AUTH_JWT_SECRET_FROM', target: 'AUTH_JWT_SECRET', store: 'ssm', name: '/sse-relay/prod/jwt-secret' }],
  },
  REDIS_URL_FROM: {
    valid: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sse-relay/redis-AbCdEf', read: (c) => c.secretRefs, invalid: 'rediss://u:p@host',
    expected: [{ from: 'REDIS_URL_FROM', target: 'REDIS_URL', store: 'secretsmanager', name: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sse-relay/redis-AbCdEf' }],
  },
  REDIS_PASSWORD_FROM: {
    valid: 'ssm:/sse-relay/prod/redis-password', read: (c) => c.secretRefs, invalid: 'hunter2',
    expected: [{ from: 'REDIS_PASSWORD_FROM', target: 'REDIS_PASSWORD', store: 'ssm', name: '/sse-relay/prod/redis-password' }],
  },
};

// The base environment every case starts from: auth off so the defaults alone form a valid configuration.
const BASE: Env = { AUTH_MODE: 'none' };

describe('loadConfig', () => {
  it('has defaults that start a server with no environment but AUTH_MODE=none', () => {
    const config = loadConfig(BASE);
    expect(config.server).toMatchObject({ port: 8080, source: 'memory', heartbeatMs: 15000, demo: false });
  });

  it('turns auth off by default only in demo mode, and only when no key is configured', () => {
    expect(loadConfig({ DEMO: 'true' }).auth.mode).toBe('none');
    expect(loadConfig({ DEMO: 'true', AUTH_JWT_SECRET: SECRET }).auth.mode).toBe('jwt');
    expect(loadConfig({ DEMO: 'true', AUTH_JWKS_URL: 'https://id.example.com/jwks' }).auth.mode).toBe('jwt');
    expect(loadConfig({ DEMO: 'true', AUTH_JWT_SECRET: SECRET, AUTH_MODE: 'none' }).auth.mode).toBe('none');
    expect(() => loadConfig({})).toThrow(/AUTH_JWT_SECRET must be set for AUTH_MODE=jwt/);
  });

  it('fetches a JWKS over https only, except from loopback', () => {
    expect(() => loadConfig({ ...BASE, AUTH_JWKS_URL: 'http://id.example.com/jwks' })).toThrow(/AUTH_JWKS_URL must be an https:\/\/ URL/);
    for (const url of ['http://127.0.0.1:9000/jwks', 'http://localhost/jwks', 'http://[::1]:80/jwks']) {
      expect(loadConfig({ ...BASE, AUTH_JWKS_URL: url }).auth.jwksUrl).toBe(url);
    }
  });

  it('has a test case for every variable it reads', () => {
    expect([...CONFIG_VARIABLES].sort()).toEqual(Object.keys(CASES).sort());
  });

  describe.each(Object.entries(CASES))('%s', (name, c) => {
    it('takes a valid value', () => {
      expect(c.read(loadConfig({ ...BASE, ...c.env, [name]: c.valid }))).toEqual(c.expected);
    });

    it('treats an empty value as unset', () => {
      const attempt = (env: Env): unknown => {
        try {
          return loadConfig(env);
        } catch (error) {
          return (error as Error).message;
        }
      };
      const without: Record<string, string | undefined> = { ...BASE, ...c.env };
      delete without[name];
      expect(attempt({ ...without, [name]: '' })).toEqual(attempt(without));
    });

    if (c.invalid !== undefined) {
      it('stops on a malformed value, naming the variable and the expected form', () => {
        let thrown: unknown;
        try {
          loadConfig({ ...BASE, ...c.env, [name]: c.invalid as string });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(ConfigError);
        expect((thrown as ConfigError).variable).toBe(name);
        expect((thrown as ConfigError).message).toMatch(new RegExp(`^${name} must be `));
      });
    }
  });

  it('never shows a secret given where its name belongs (REDIS_PASSWORD_FROM=hunter2, AUTH_JWT_SECRET_FROM=<the secret>)', () => {
    expect(() => loadConfig({ ...BASE, REDIS_PASSWORD_FROM: 'hunter2' })).toThrow(/^REDIS_PASSWORD_FROM must be ssm:\/parameter\/name.*got "\(hidden: not a store:name reference/);
    expect(() => loadConfig({ ...BASE, AUTH_JWT_SECRET_FROM: 'x'.repeat(40) })).not.toThrow(/xxxx/);
    expect(() => loadConfig({ ...BASE, AUTH_JWT_SECRET_FROM: 'vault:/jwt' })).toThrow(/got "vault:\/jwt"/);
  });

  it('requires the settings of the chosen source', () => {
    expect(() => loadConfig({ ...BASE, SOURCE: 'redis' })).toThrow(/REDIS_URL must be set for SOURCE=redis/);
    expect(() => loadConfig({ ...BASE, SOURCE: 'sqs' })).toThrow(/SQS_QUEUE_URL must be set/);
  });

  it('refuses SQS queue settings that name no queue SQS could have, naming the variable and the fix', () => {
    const template = 'https://sqs.eu-west-1.amazonaws.com/1/events-{topic}';
    expect(() => loadConfig({ ...BASE, SOURCE: 'sqs', SQS_QUEUE_URL: template }))
      .toThrow(/^SQS_QUEUE_URL must be one queue's URL, without \{topic\} \(for one queue per topic set SQS_QUEUE_URL_TEMPLATE instead\)/);
    // A listed topic the template cannot turn into a queue name: refused at start, not on every stream.
    for (const topic of ['user.42', 'a:b', 'x'.repeat(74)]) {
      expect(() => loadConfig({ ...BASE, SOURCE: 'sqs', SQS_QUEUE_URL_TEMPLATE: template, SQS_QUEUE_TOPICS: `orders,${topic}` }))
        .toThrow(/^SQS_QUEUE_TOPICS must be topics that can name a queue with SQS_QUEUE_URL_TEMPLATE: letters, digits, - and _ only, at most 73 characters/);
    }
    expect(loadConfig({ ...BASE, SOURCE: 'sqs', SQS_QUEUE_URL_TEMPLATE: template, SQS_QUEUE_TOPICS: `orders,${'x'.repeat(73)}` }).sqs.queueTopics).toHaveLength(2);
    // The same topics are fine on a shared queue, where they are attribute values, not queue names.
    expect(loadConfig({ ...BASE, SOURCE: 'sqs', SQS_QUEUE_URL: 'https://sqs/1/events', SQS_QUEUE_TOPICS: 'user.42,a:b' }).sqs.queueTopics).toEqual(['user.42', 'a:b']);
    expect(() => loadConfig({ ...BASE, SOURCE: 'sqs', SQS_QUEUE_URL_TEMPLATE: `https://sqs/1/${'q'.repeat(80)}-{topic}` }))
      .toThrow(/^SQS_QUEUE_URL_TEMPLATE must be .*leaves room for a topic/);
  });

  it('takes exactly one Redis topology, and the Sentinel name only with sentinels', () => {
    expect(() => loadConfig({ ...BASE, REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:6379' })).toThrow(/^REDIS_CLUSTER_NODES must be left unset when REDIS_URL is set/);
    expect(() => loadConfig({ ...BASE, REDIS_SENTINELS: 'a:26379' })).toThrow(/^REDIS_SENTINEL_NAME must be set with REDIS_SENTINELS/);
    expect(() => loadConfig({ ...BASE, REDIS_SENTINEL_NAME: 'm' })).toThrow(/^REDIS_SENTINEL_NAME must be set only with REDIS_SENTINELS/);
    expect(() => loadConfig({ ...BASE, REDIS_URL: 'redis://a:6379', REDIS_PASSWORD: 'pw' })).toThrow(/^REDIS_PASSWORD must be left unset with REDIS_URL/);
    expect(loadConfig({ ...BASE, SOURCE: 'redis', REDIS_CLUSTER_NODES: 'a:7000' }).redis.topology?.kind).toBe('cluster');
    expect(loadConfig({ ...BASE, SOURCE: 'redis-list', REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'm' }).redis.topology?.kind).toBe('sentinel');
    expect(loadConfig({ ...BASE, SOURCE: 'redis-list', REDIS_CLUSTER_NODES: 'a:7000' }).redis.topology?.kind).toBe('cluster');
    expect(loadConfig({ ...BASE, SOURCE: 'redis', REDIS_URL: 'redis://a:6379' }).redis.topology).toEqual({ kind: 'single', url: 'redis://a:6379' });
  });

  it('refuses a setting of another Redis topology instead of ignoring it: the sentinel password, the cluster partitions', () => {
    expect(() => loadConfig({ ...BASE, REDIS_URL: 'redis://a:6379', REDIS_SENTINEL_PASSWORD: 'pw' })).toThrow(/^REDIS_SENTINEL_PASSWORD must be left unset with REDIS_URL \(it is the sentinels' own password, used with REDIS_SENTINELS only\); got "\(hidden\)"$/);
    expect(() => loadConfig({ ...BASE, REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINEL_PASSWORD: 'pw' })).toThrow(/^REDIS_SENTINEL_PASSWORD must be left unset with REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ ...BASE, REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_PARTITIONS: '16' })).toThrow(/^REDIS_CLUSTER_PARTITIONS must be left unset with REDIS_URL \(it spreads a topic over a Redis Cluster's primaries, with REDIS_CLUSTER_NODES only\); got "16"$/);
    expect(() => loadConfig({ ...BASE, REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_PARTITIONS: '1' })).toThrow(/^REDIS_CLUSTER_PARTITIONS must be left unset with REDIS_SENTINELS/);
    expect(loadConfig({ ...BASE, REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'm', REDIS_SENTINEL_PASSWORD: 'pw' }).redis.topology?.kind).toBe('sentinel');
    expect(loadConfig({ ...BASE, REDIS_CLUSTER_NODES: 'a:7000', REDIS_CLUSTER_PARTITIONS: '16' }).redis.topology?.kind).toBe('cluster');
    // Without any Redis (the in-process broker) nothing of Redis is read, so nothing is refused.
    expect(loadConfig({ ...BASE, REDIS_SENTINEL_PASSWORD: 'pw', REDIS_CLUSTER_PARTITIONS: '16' }).redis.topology).toBeUndefined();
  });

  it('refuses a REDIS_URL ioredis would read otherwise than it says: no host, a path that is no database, a broken %-escape', () => {
    const cases: [string, RegExp][] = [
      ['redis://', /^REDIS_URL must be a URL with a host \(redis:\/\/host:6379\)/],
      ['redis://cache:6379/sse', /^REDIS_URL must be a URL whose path is a database number or nothing/],
      ['redis://cache/1.5', /path is a database number/],
      ['redis://cache/-1', /path is a database number/],
      ['redis://cache/1/2', /path is a database number/],
      ['redis://cache:6379?db=sse', /path is a database number/],
      ['redis://relay:p%zz@cache:6379', /^REDIS_URL must be a URL whose user and password are percent-encoded .*got "redis:\/\/\*\*\*@cache:6379"$/],
      ['redis://h:99999', /^REDIS_URL must be a URL starting with redis:\/\/ or rediss:\/\//],
    ];
    for (const [url, message] of cases) expect(() => loadConfig({ ...BASE, REDIS_URL: url })).toThrow(message);
    for (const url of ['redis://cache', 'redis://cache:6379/', 'redis://cache:6379/15', 'rediss://u:p%40ss@cache:6380/0', 'redis://[::1]:6379', 'redis://cache:6379?db=4']) {
      expect(loadConfig({ ...BASE, REDIS_URL: url }).redis.url).toBe(url);
    }
  });

  it('refuses REDIS_TLS=true beside a plain redis:// REDIS_URL (it was ignored: plain text), and a braced REDIS_KEY_PREFIX in a cluster', () => {
    expect(() => loadConfig({ ...BASE, REDIS_URL: 'redis://cache:6379', REDIS_TLS: 'true' })).toThrow(/^REDIS_TLS must be left unset with REDIS_URL \(for TLS write rediss:\/\/ in REDIS_URL\)/);
    expect(loadConfig({ ...BASE, REDIS_URL: 'rediss://cache:6379', REDIS_TLS: 'true' }).redis.topology?.kind).toBe('single');
    expect(loadConfig({ ...BASE, REDIS_URL: 'redis://cache:6379', REDIS_TLS: 'false' }).redis.topology?.kind).toBe('single');
    for (const prefix of ['{app}:', 'x{}', 'sse{', 'a}']) {
      expect(() => loadConfig({ ...BASE, REDIS_CLUSTER_NODES: 'a:7000', REDIS_KEY_PREFIX: prefix })).toThrow(/^REDIS_KEY_PREFIX must be without \{ or \} in a Redis Cluster/);
    }
    expect(loadConfig({ ...BASE, REDIS_URL: 'redis://cache:6379', REDIS_KEY_PREFIX: '{app}:' }).redis.keyPrefix).toBe('{app}:');
    expect(loadConfig({ ...BASE, REDIS_CLUSTER_NODES: 'a:7000', REDIS_KEY_PREFIX: 'app:' }).redis.keyPrefix).toBe('app:');
  });

  it('takes sentinel and cluster hosts with `_` (Docker Compose service names resolve with one; they were refused as not host:port)', () => {
    expect(loadConfig({ ...BASE, REDIS_SENTINELS: 'redis_sentinel_1:26379', REDIS_SENTINEL_NAME: 'm' }).redis.topology).toMatchObject({ sentinels: [{ host: 'redis_sentinel_1', port: 26379 }] });
    expect(loadConfig({ ...BASE, REDIS_CLUSTER_NODES: 'redis_node_1:7000' }).redis.topology).toMatchObject({ nodes: [{ host: 'redis_node_1', port: 7000 }] });
  });

  it('METRICS_PORT must differ from PORT; unset serves /metrics on PORT', () => {
    expect(() => loadConfig({ ...BASE, PORT: '8080', METRICS_PORT: '8080' })).toThrow(/^METRICS_PORT must be a port other than PORT \(8080\)/);
    expect(loadConfig(BASE).server.metricsPort).toBeUndefined();
    expect(loadConfig({ ...BASE, REDIS_STREAM_TTL_S: '0' }).redis.streamTtlSeconds).toBe(0);
    expect(loadConfig(BASE).redis.streamTtlSeconds).toBe(86_400);
  });

  it('QUEUE_ACK_GRACE_MS: 2000 in the container, 0 on Lambda whatever it says (a frozen sandbox would hold the messages)', () => {
    expect(loadConfig(BASE).queue.graceMs).toBe(2_000);
    expect(loadConfig({ ...BASE, QUEUE_ACK_GRACE_MS: '0' }).queue.graceMs).toBe(0);
    const lambda = { ...BASE, SOURCE: 'sqs', SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q', QUEUE_ACK: 'client', QUEUE_ACK_GRACE_MS: '5000' };
    expect(loadConfig(lambda, 'lambda').queue.graceMs).toBe(0);
  });

  it('OVERLOAD_MEMORY_BYTES: auto by default, 0 for never, or at least 16 MiB (below, every stream would be refused)', () => {
    expect(loadConfig(BASE).server.overloadMemoryBytes).toBe('auto');
    expect(loadConfig({ ...BASE, OVERLOAD_MEMORY_BYTES: 'AUTO' }).server.overloadMemoryBytes).toBe('auto');
    expect(loadConfig({ ...BASE, OVERLOAD_MEMORY_BYTES: '0' }).server.overloadMemoryBytes).toBe(0);
    expect(() => loadConfig({ ...BASE, OVERLOAD_MEMORY_BYTES: '1000000' })).toThrow(/^OVERLOAD_MEMORY_BYTES must be auto, 0 \(never\), or a number of bytes of at least 16777216 \(16 MiB; a server uses about 10 MiB idle\); got "1000000"/);
    expect(() => loadConfig({ ...BASE, OVERLOAD_MEMORY_BYTES: '512Mi' })).toThrow(/^OVERLOAD_MEMORY_BYTES must be auto/);
  });

  it('runs several WORKERS only for sources shared across processes, without the demo, with METRICS_PORT', () => {
    const redis = { ...BASE, SOURCE: 'redis', REDIS_URL: 'redis://a:6379', METRICS_PORT: '9090' };
    expect(loadConfig(BASE).server.workers).toBe(1);
    expect(loadConfig({ ...redis, WORKERS: 'auto' }).server.workers).toBe('auto');
    expect(loadConfig({ ...redis, WORKERS: 'AUTO' }).server.workers).toBe('auto');
    expect(loadConfig({ ...BASE, WORKERS: '1' }).server.workers).toBe(1);
    expect(() => loadConfig({ ...redis, WORKERS: '0' })).toThrow(/^WORKERS must be a whole number from 1 to 256, or auto; got "0"/);
    expect(() => loadConfig({ ...BASE, METRICS_PORT: '9090', WORKERS: '2' })).toThrow(/^WORKERS must be 1 \(or unset\) with SOURCE=memory: each process would keep its own topics/);
    expect(() => loadConfig({ ...BASE, METRICS_PORT: '9090', WORKERS: 'auto' })).toThrow(/^WORKERS must be 1 \(or unset\) with SOURCE=memory/);
    expect(() => loadConfig({ ...redis, DEMO: 'true', WORKERS: '2' })).toThrow(/^WORKERS must be 1 \(or unset\) with DEMO=true/);
    expect(() => loadConfig({ ...redis, METRICS_PORT: '', WORKERS: '2' })).toThrow(/^METRICS_PORT must be set when WORKERS is 2: the primary process serves the sum/);
    const queue = { ...redis, SOURCE: 'sqs', SQS_QUEUE_URL: 'https://sqs/1/q', WORKERS: '3' };
    expect(loadConfig(queue).server.workers).toBe(3);
  });

  it('refuses a secret given both by value and by name', () => {
    expect(() => loadConfig({ ...BASE, AUTH_JWT_SECRET: SECRET, AUTH_JWT_SECRET_FROM: 'ssm:/jwt' })).toThrow(/^AUTH_JWT_SECRET_FROM must be unset when AUTH_JWT_SECRET is set/);
  });

  it('reads the default response budget as 180 MiB, below Lambda\'s 200 MB', () => {
    expect(loadConfig(BASE).lambda.maxResponseBytes).toBe(188_743_680);
  });

  it('refuses on Lambda a response budget that leaves less than one connection buffer under the 200 MB limit', () => {
    // After the budget is spent a stream still writes what it has queued (a replay is a whole CONNECTION_BUFFER_BYTES).
    const big = { ...BASE, CONNECTION_BUFFER_BYTES: String(32 * 1_048_576) };
    expect(() => loadConfig(big, 'lambda')).toThrow(/^LAMBDA_MAX_RESPONSE_BYTES must be at most 166183424 on Lambda with CONNECTION_BUFFER_BYTES=33554432/);
    // The variable's own range allows up to 1 MiB under the limit; with the default 1 MiB buffer that is too close.
    expect(() => loadConfig({ ...BASE, LAMBDA_MAX_RESPONSE_BYTES: '198700000' }, 'lambda')).toThrow(/^LAMBDA_MAX_RESPONSE_BYTES must be at most 198689280 on Lambda/);
    expect(loadConfig({ ...big, LAMBDA_MAX_RESPONSE_BYTES: '166183424' }, 'lambda').lambda.maxResponseBytes).toBe(166_183_424);
    expect(loadConfig(big).server.connectionBufferBytes).toBe(33_554_432); // the container has no such limit
    expect(loadConfig(BASE, 'lambda').lambda.maxResponseBytes).toBe(188_743_680);
  });

  describe.each(['container', 'lambda'] as const)('on %s, the defaults objects hold the defaults the readers use', (runtime) => {
    // Setting a variable to its documented default must change nothing: a reader with a default of its own would differ.
    const base: Env = { AUTH_JWT_SECRET: SECRET };
    const entries = CONFIG_DEFAULTS.flatMap((area) => Object.entries(area)).filter(([, entry]) => entry.value !== undefined);
    it.each(entries)('%s', (name, entry) => {
      const value = runtime === 'lambda' && entry.lambda !== undefined ? entry.lambda : entry.value;
      expect(loadConfig({ ...base, [name]: String(value) }, runtime)).toEqual(loadConfig(base, runtime));
    });
  });

  it('long-polls SQS for 2 s and blocks on Redis for 2 s on Lambda (a stream\'s invocation waits for its last read), 5 s in the container', () => {
    expect([loadConfig(BASE).sqs.waitSeconds, loadConfig(BASE, 'lambda').sqs.waitSeconds]).toEqual([5, 2]);
    expect(loadConfig({ ...BASE, SQS_WAIT_SECONDS: '10' }, 'lambda').sqs.waitSeconds).toBe(10);
    expect([loadConfig(BASE).redis.blockMs, loadConfig(BASE, 'lambda').redis.blockMs]).toEqual([5_000, 2_000]);
  });

  it('requires QUEUE_ACK=client for queue sources on Lambda only', () => {
    const sqs = { ...BASE, SOURCE: 'sqs', SQS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q' };
    expect(() => loadConfig(sqs, 'lambda')).toThrow(/^QUEUE_ACK must be client on Lambda with SOURCE=sqs/);
    expect(() => loadConfig({ ...BASE, SOURCE: 'redis-list', REDIS_URL: 'redis://a:6379' }, 'lambda')).toThrow(/^QUEUE_ACK must be client on Lambda with SOURCE=redis-list/);
    expect(loadConfig({ ...sqs, QUEUE_ACK: 'client' }, 'lambda').queue.ack).toBe('client');
    expect(loadConfig(sqs).queue.ack).toBe('auto');
    expect(loadConfig({ ...BASE, SOURCE: 'redis', REDIS_URL: 'redis://a:6379' }, 'lambda').queue.ack).toBe('auto');
  });

  it('gives the SQS → Redis bridge a Redis topology whatever SOURCE says, and asks nothing about auth', () => {
    const bridge = loadBridgeConfig({ REDIS_URL: 'redis://a:6379', INGEST_TOPIC: 'orders', MAX_MESSAGE_BYTES: '100', LOG_LEVEL: 'warn' });
    expect(bridge).toMatchObject({ target: { kind: 'single', url: 'redis://a:6379' }, ingestTopic: 'orders', maxMessageBytes: 100, logLevel: 'warn' });
    expect(bridge.redis.idempotencyTtlSeconds).toBe(86_400);
    let thrown: unknown;
    try {
      loadBridgeConfig({ SOURCE: 'memory' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).message).toMatch(/^REDIS_URL must be set for the SQS → Redis bridge/);
    expect(() => loadBridgeConfig({ REDIS_URL: 'redis://a:6379', SQS_WAIT_SECONDS: '30' })).toThrow(/^SQS_WAIT_SECONDS must be/);
  });

  it('checks the JWT keys by one rule, for the relay and for the CLI\'s token command', () => {
    expect(requireJwtKeys(loadConfig({ AUTH_JWT_SECRET: SECRET }).auth)).toEqual({ secret: SECRET, jwksUrl: undefined });
    expect(requireJwtKeys(loadConfig({ AUTH_JWKS_URL: 'https://id.example.com/jwks' }).auth)).toEqual({ secret: undefined, jwksUrl: 'https://id.example.com/jwks' });
    expect(() => requireJwtKeys(loadConfig(BASE).auth)).toThrow(/^AUTH_JWT_SECRET must be set for AUTH_MODE=jwt/);
    expect(() => loadConfig({ ...BASE, AUTH_JWT_SECRET: 'short' })).toThrow(/^AUTH_JWT_SECRET must be at least 32 bytes long/);
    expect(loadSigningSecret({ AUTH_JWT_SECRET: ` ${SECRET} ` })).toBe(SECRET);
    expect(() => loadSigningSecret({ AUTH_JWT_SECRET: 'short' })).toThrow(/^AUTH_JWT_SECRET must be at least 32 bytes long/);
    expect(() => loadSigningSecret({})).toThrow(ConfigError);
  });

  it('never puts a password from a URL into an error message', () => {
    expect(() => loadConfig({ ...BASE, REDIS_URL: 'http://user:hunter2@host' })).toThrow(/\*\*\*@host/);
    expect(() => loadConfig({ ...BASE, REDIS_URL_FROM: 'rediss://user:hunter2@host' })).toThrow(/\*\*\*@host/);
  });
});
