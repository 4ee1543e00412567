import { ConfigError } from './config-error.js';
import type { EnvReader } from './env-reader.js';

/** Where a secret is kept: SSM Parameter Store (a SecureString) or AWS Secrets Manager. */
export type SecretStore = 'ssm' | 'secretsmanager';

/** A secret named in the environment instead of given by value; resolved once per process start by functions/. */
export interface SecretRef {
  /** The variable that names it, e.g. `AUTH_JWT_SECRET_FROM`. */
  from: string;
  /** The variable its value stands for, e.g. `AUTH_JWT_SECRET`. */
  target: string;
  store: SecretStore;
  /** Parameter name (`/sse-relay/prod/jwt-secret`) or secret name or ARN, as the store's API takes it. */
  name: string;
}

/**
 * The variables that may name a secret instead of holding it, and the variable each stands for. Values:
 * `ssm:/path/to/parameter`, `secretsmanager:name`, or the parameter's or secret's full ARN.
 */
export const SECRET_REF_VARIABLES: Readonly<Record<string, string>> = {
  AUTH_JWT_SECRET_FROM: 'AUTH_JWT_SECRET',
  REDIS_URL_FROM: 'REDIS_URL',
  REDIS_PASSWORD_FROM: 'REDIS_PASSWORD',
};

const FORM = 'ssm:/parameter/name, secretsmanager:secret-name, or the ARN of an SSM parameter or a Secrets Manager secret';
// Names as the stores accept them: SSM parameter names (a-zA-Z0-9_.-/), Secrets Manager names (also +=@).
const SSM_NAME = /^[A-Za-z0-9_.\-/]{1,2048}$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SSM_ARN = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[A-Za-z0-9_.\-/]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;

/** Parses one reference; throws a ConfigError naming `from` when it is not one of the accepted forms. */
export function parseSecretRef(from: string, target: string, value: string): SecretRef {
  if (SSM_ARN.test(value)) return { from, target, store: 'ssm', name: value };
  if (SECRET_ARN.test(value)) return { from, target, store: 'secretsmanager', name: value };
  const colon = value.indexOf(':');
  const scheme = value.slice(0, colon);
  const name = value.slice(colon + 1);
  if (scheme === 'ssm' && SSM_NAME.test(name)) return { from, target, store: 'ssm', name };
  if (scheme === 'secretsmanager' && SECRET_NAME.test(name)) return { from, target, store: 'secretsmanager', name };
  throw new ConfigError(from, FORM, shownRef(value));
}

// What a malformed reference's error may show. A URL pasted here by mistake may carry a password, and a value with no
// `store:` prefix at all is most likely the secret itself (REDIS_PASSWORD_FROM=hunter2): the log must show neither.
function shownRef(value: string): string {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return '(hidden: not a store:name reference, perhaps the secret itself)';
  return value.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * The secret references set in the environment. A reference and a value for the same variable are refused: which one
 * wins would be a guess.
 */
export function readSecretRefs(env: EnvReader): SecretRef[] {
  const refs: SecretRef[] = [];
  for (const [from, target] of Object.entries(SECRET_REF_VARIABLES)) {
    const value = env.optionalString(from);
    if (value === undefined) continue;
    if (env.optionalString(target) !== undefined) throw new ConfigError(from, `unset when ${target} is set (give the value or its name, not both)`, value);
    refs.push(parseSecretRef(from, target, value));
  }
  return refs;
}
