import { describe, expect, it } from '@jest/globals';
import { EmfEmitter } from '../../lib/adapters/lambda-emf.js';
import { ResponseBudgetSink } from '../../lib/adapters/response-budget-sink.js';
import { DEFINITIONS, Metrics } from '../../lib/metrics.js';
import { loadWithSecrets, resolveSecretRefs } from '../../functions/resolve-secrets.js';
import { loadBridgeConfig, loadConfig } from '../../lib/config/index.js';
import { RecordingSink } from '../support/recording-sink.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ResponseBudgetSink', () => {
  it('signals once, on the turn after the write that reaches the budget, and passes every byte through', async () => {
    const inner = new RecordingSink();
    const sink = new ResponseBudgetSink(inner, 10);
    let signals = 0;
    sink.once('response-budget', () => (signals += 1));
    sink.write(Buffer.from('12345'));
    await nextTurn();
    expect(signals).toBe(0);
    sink.write(Buffer.from('67890'));
    expect(signals).toBe(0); // never from inside write(): the writer is mid-flush
    await nextTurn();
    expect(signals).toBe(1);
    sink.write(Buffer.from('more'));
    await nextTurn();
    expect([signals, sink.bytesWritten, inner.text]).toEqual([1, 14, '1234567890more']);
  });

  it('still tells a listener that arrives after the signal', async () => {
    const sink = new ResponseBudgetSink(new RecordingSink(), 1);
    sink.write(Buffer.from('x'));
    await nextTurn();
    let heard = false;
    sink.once('response-budget', () => (heard = true));
    await nextTurn();
    expect(heard).toBe(true);
  });
});

describe('EmfEmitter', () => {
  it('writes each counter\'s change since the last line and the gauges, only when a counter moved', () => {
    const metrics = new Metrics();
    const lines: string[] = [];
    const emf = new EmfEmitter(metrics, { dimensions: { FunctionName: 'f' }, write: (line) => lines.push(line) });
    emf.flush(1_000);
    expect(lines).toEqual([]);
    metrics.inc('sse_events_delivered_total', 3);
    metrics.set('sse_connections_open', 2);
    emf.flush(2_000);
    metrics.inc('sse_events_delivered_total', 1);
    emf.flush(3_000);
    emf.flush(4_000);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } });
    expect(parsed.map((line) => [line._aws.Timestamp, line['sse_events_delivered_total'], line['sse_connections_open'], line['FunctionName']]))
      .toEqual([[2_000, 3, 2, 'f'], [3_000, 1, 2, 'f']]);
    expect(parsed[0]?._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'sse-relay', Dimensions: [['FunctionName']] });
  });

  it('carries every counter the relay defines: on Lambda these lines are the only metrics there are', () => {
    // Queue acknowledgements (QUEUE_ACK=client is how queue mode runs on Lambda) and a full Redis refusing the publish
    // function's writes were counted in the sandbox and never left it.
    const metrics = new Metrics();
    const lines: string[] = [];
    const emf = new EmfEmitter(metrics, { dimensions: { FunctionName: 'f' }, write: (line) => lines.push(line) });
    const counters = (Object.keys(DEFINITIONS) as (keyof typeof DEFINITIONS)[]).filter((name) => DEFINITIONS[name].type === 'counter');
    for (const name of counters) metrics.inc(name);
    emf.flush(1_000);
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } };
    const declared = line._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name) ?? [];
    expect(counters.filter((name) => line[name] !== 1 || !declared.includes(name))).toEqual([]);
    expect(declared.length).toBeLessThanOrEqual(100);
  });
});

describe('resolveSecretRefs', () => {
  it('replaces each name by its value and drops the name; leaves an environment without names as it is', async () => {
    const env = { AUTH_JWT_SECRET_FROM: 'ssm:/a/jwt', REDIS_URL_FROM: 'secretsmanager:redis', SOURCE: 'redis' };
    const read = async (ref: { store: string; name: string }): Promise<string> => `${ref.store}|${ref.name}\n`;
    expect(await resolveSecretRefs(env, read)).toEqual({ AUTH_JWT_SECRET: 'ssm|/a/jwt', REDIS_URL: 'secretsmanager|redis', SOURCE: 'redis' });
    const plain = { SOURCE: 'memory' };
    expect(await resolveSecretRefs(plain, read)).toBe(plain);
  });

  it('names the variable, the store and the name when a read fails or comes back empty, never a value', async () => {
    const failing = async (): Promise<string> => {
      throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
    };
    await expect(resolveSecretRefs({ REDIS_URL_FROM: 'ssm:/r' }, failing)).rejects.toThrow(/^REDIS_URL_FROM: cannot read ssm:\/r \(AccessDeniedException: denied\)/);
    await expect(resolveSecretRefs({ AUTH_JWT_SECRET_FROM: 'ssm:/j' }, async () => ' ')).rejects.toThrow('AUTH_JWT_SECRET_FROM: ssm:/j is empty');
    await expect(resolveSecretRefs({ REDIS_URL_FROM: 'ssm:/r' }, failing)).rejects.toMatchObject({ name: 'ConfigError', variable: 'REDIS_URL_FROM' });
  });
});

describe('loadWithSecrets', () => {
  // Each value fails a check of loadConfig after it was read from the store; each check quoted the value (or what its
  // URL redaction left of it: a password with a `/` in it, or a URL without `//`, came through whole).
  const secretValues = [
    ['REDIS_URL_FROM', 'rediss://default:s3cr/et-pw@cache.example.com:6380', 's3cr/et-pw'],
    ['REDIS_URL_FROM', 'rediss:default:s3cret-pw@cache.example.com', 's3cret-pw'],
    ['REDIS_URL_FROM', 'redis://default:s3cret-pw@cache.example.com/not-a-db', 's3cret-pw'],
    ['REDIS_URL_FROM', 's3cret-pw-without-a-url', 's3cret-pw'],
    ['AUTH_JWT_SECRET_FROM', 'short-s3cret', 'short-s3cret'],
  ] as const;

  it.each(secretValues)('%s holding %j: the error names the variable, the reference and the rule, never the value', async (from, value, secret) => {
    const env = { SOURCE: 'redis', AUTH_MODE: 'jwt', [from]: 'ssm:/sse-relay/test/x', ...(from === 'AUTH_JWT_SECRET_FROM' ? { REDIS_URL: 'redis://cache:6379' } : { AUTH_JWT_SECRET: 'j'.repeat(32) }) };
    const failure = await loadWithSecrets(env, (resolved) => loadConfig(resolved, 'lambda'), async () => value).then(() => undefined, (error: unknown) => error as Error);
    expect(failure).toMatchObject({ name: 'ConfigError', variable: from.replace(/_FROM$/, '') });
    const told = `${failure?.message}\n${failure?.stack}\n${String((failure as { cause?: unknown } | undefined)?.cause)}`;
    expect(told).toContain(`read from ${from} (ssm:/sse-relay/test/x)`);
    expect(told).toContain('the value is not shown');
    expect(told).not.toContain(secret);
  });

  it('cuts a resolved value out of any other error the load throws, and passes a good configuration through', async () => {
    const value = 'rediss://default:s3cret-pw@cache.example.com:6380';
    const leaky = (): never => {
      throw new Error(`cannot use ${value}`);
    };
    await expect(loadWithSecrets({ REDIS_URL_FROM: 'ssm:/r' }, leaky, async () => value)).rejects.toThrow('cannot use (secret)');
    const bridge = await loadWithSecrets({ REDIS_URL_FROM: 'ssm:/r' }, loadBridgeConfig, async () => value);
    expect(bridge.target).toEqual({ kind: 'single', url: value });
  });
});
