import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { EnvReader, type Env } from '../lib/config/env-reader.js';
import { ConfigError, readSecretRefs, type SecretRef } from '../lib/config/index.js';

/** Reads one secret's value; the two AWS stores by default, a stub in unit tests. */
export type SecretReader = (ref: SecretRef) => Promise<string>;

/**
 * `env` with every secret reference (AUTH_JWT_SECRET_FROM, REDIS_URL_FROM, REDIS_PASSWORD_FROM) replaced by the value it names, read from
 * SSM Parameter Store (decrypted) or Secrets Manager. Called once per process start (a Lambda sandbox's init, a
 * container's start); the values then live only in this process's memory, never in the function's configuration.
 * Throws a ConfigError naming the variable, the store and the name (never a value) when a read fails.
 */
export async function resolveSecretRefs(env: Env, read: SecretReader = awsSecretReader(env)): Promise<Env> {
  return (await resolveWithRefs(env, read)).resolved;
}

/**
 * Resolves the secret references of `env`, then runs `load` (loadConfig, loadBridgeConfig) on the result. A check that
 * fails on a resolved value (a REDIS_URL read from SSM that does not parse, a JWT secret too short) would quote that
 * value, or part of it, in its message: such an error is replaced by one naming the variable, the reference it was
 * read from and the rule, and no value; any other error has every resolved value cut out of its message. Entry points
 * load their configuration through this, so no secret reaches a log line.
 */
export async function loadWithSecrets<T>(env: Env, load: (resolved: Env) => T, read?: SecretReader): Promise<T> {
  const { resolved, refs } = await resolveWithRefs(env, read ?? awsSecretReader(env));
  try {
    return load(resolved);
  } catch (error) {
    throw hideSecrets(error, refs.map((ref) => ({ ref, value: resolved[ref.target] ?? '' })));
  }
}

async function resolveWithRefs(env: Env, read: SecretReader): Promise<{ resolved: Env; refs: SecretRef[] }> {
  const refs = readSecretRefs(new EnvReader(env));
  if (refs.length === 0) return { resolved: env, refs };
  const resolved: Record<string, string | undefined> = { ...env };
  await Promise.all(refs.map(async (ref) => {
    let value: string;
    try {
      value = await read(ref);
    } catch (error) {
      throw ConfigError.unusable(ref.from, `${ref.from}: cannot read ${ref.store}:${ref.name} (${describe(error)}); check the name, the region and the function role's grant`, error);
    }
    if (value.trim() === '') throw ConfigError.unusable(ref.from, `${ref.from}: ${ref.store}:${ref.name} is empty; store the value there, or set ${ref.target} instead`);
    resolved[ref.target] = value.trim();
    delete resolved[ref.from];
  }));
  return { resolved, refs };
}

function hideSecrets(error: unknown, secrets: { ref: SecretRef; value: string }[]): unknown {
  if (!(error instanceof Error)) return error;
  const named = error instanceof ConfigError ? secrets.find(({ ref }) => ref.target === error.variable) : undefined;
  if (named !== undefined) {
    // Only the rule is kept (`<VARIABLE> must be <rule>; got "<value>"`): no message, stack or cause that held the value.
    const { ref } = named;
    const rule = /^\S+ must be ([\s\S]*?); got /.exec(error.message)?.[1];
    const what = rule === undefined ? 'is not usable' : `must be ${rule}`;
    return ConfigError.unusable(ref.target, `${ref.target}, read from ${ref.from} (${ref.store}:${ref.name}), ${what}; the value is not shown: it is a secret. Store a corrected value there`);
  }
  let message = error.message;
  for (const { value } of secrets) if (value !== '') message = message.split(value).join('(secret)');
  if (message === error.message) return error;
  if (error instanceof ConfigError) return ConfigError.unusable(error.variable, message);
  const scrubbed = new Error(message);
  scrubbed.name = error.name;
  return scrubbed;
}

// The SDK error's name (ParameterNotFound, AccessDeniedException…) says what is wrong; its message may quote the ARN.
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Reads with the AWS SDK clients, credentials from the default chain (the function's role). Endpoints follow the SDK's
 * own AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL_SECRETS_MANAGER (a VPC endpoint, or the local stand-in of the tests).
 * Each client is imported on its first read: a function given no secret by name never loads either (issue #17).
 */
export function awsSecretReader(env: Env): SecretReader {
  const region = env['AWS_REGION'];
  const options = { ...(region === undefined ? {} : { region }), maxAttempts: 3 };
  let ssm: SSMClient | undefined;
  let secrets: SecretsManagerClient | undefined;
  return async (ref) => {
    if (ref.store === 'ssm') {
      const { GetParameterCommand, SSMClient } = await import('@aws-sdk/client-ssm');
      ssm ??= new SSMClient(options);
      const out = await ssm.send(new GetParameterCommand({ Name: ref.name, WithDecryption: true }));
      return out.Parameter?.Value ?? '';
    }
    const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    secrets ??= new SecretsManagerClient(options);
    const out = await secrets.send(new GetSecretValueCommand({ SecretId: ref.name }));
    return out.SecretString ?? '';
  };
}
