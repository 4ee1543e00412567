import { isExactOrigin } from '../cors.js';
import { ConfigError } from './config-error.js';
import type { EnvReader } from './env-reader.js';

/** Who may subscribe and publish, and from which origins. */
export interface AuthConfig {
  /** `jwt` (default outside the demo) or `none`, which must be chosen explicitly. */
  mode: 'jwt' | 'none';
  /** HS256 shared secret (at least 32 bytes). One of this or `jwksUrl` is required for `jwt`. */
  jwtSecret: string | undefined;
  /** URL of a JWKS document for RS256/ES256 tokens. */
  jwksUrl: string | undefined;
  /** Expected `aud` claim; unchecked when unset. */
  audience: string | undefined;
  /** Expected `iss` claim; unchecked when unset. */
  issuer: string | undefined;
  /** Exact origins allowed by CORS (`https://app.example.com`); empty = no cross-origin access. */
  corsOrigins: string[];
}

export function readAuthConfig(env: EnvReader, demo: boolean): AuthConfig {
  return {
    mode: env.oneOf('AUTH_MODE', ['jwt', 'none'] as const, demo ? 'none' : 'jwt'),
    jwtSecret: env.optionalString('AUTH_JWT_SECRET'),
    jwksUrl: env.url('AUTH_JWKS_URL', ['https:', 'http:']),
    audience: env.optionalString('AUTH_AUDIENCE'),
    issuer: env.optionalString('AUTH_ISSUER'),
    corsOrigins: readOrigins(env),
  };
}

// An entry that is not an exact origin (a `*`, a path, a trailing slash) would never match, or match too much.
function readOrigins(env: EnvReader): string[] {
  const origins = env.list('CORS_ORIGINS');
  const bad = origins.find((origin) => !isExactOrigin(origin));
  if (bad !== undefined) throw new ConfigError('CORS_ORIGINS', 'a comma-separated list of exact origins like https://app.example.com (no *, path or trailing slash)', bad);
  return origins;
}
