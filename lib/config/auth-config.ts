import { isExactOrigin } from '../request.js';
import { ConfigError } from './config-error.js';
import { AUTH_DEFAULTS as D } from './defaults.js';
import { redactUrl, type EnvReader } from './env-reader.js';

/** Who may subscribe and publish, and from which origins. Defaults: AUTH_DEFAULTS. */
export interface AuthConfig {
  /**
   * `jwt` or `none`. The demo takes `none` by default, but only when neither a secret nor a JWKS URL is set, so a
   * configured key always turns auth on.
   */
  mode: 'jwt' | 'none';
  /** HS256 shared secret (at least 32 bytes). One of this or `jwksUrl` is required for `jwt`. */
  jwtSecret: string | undefined;
  /** URL of a JWKS document for RS256/ES256 tokens. */
  jwksUrl: string | undefined;
  /** Accept tokens without an `exp` claim (long-lived publisher tokens); otherwise such tokens get 401. */
  allowNoExp: boolean;
  /** Expected `aud` claim; unchecked when unset. */
  audience: string | undefined;
  /** Expected `iss` claim; unchecked when unset. */
  issuer: string | undefined;
  /** Exact origins allowed by CORS (`https://app.example.com`); empty = no cross-origin access. */
  corsOrigins: string[];
}

export function readAuthConfig(env: EnvReader, demo: boolean): AuthConfig {
  const jwtSecret = env.optionalString('AUTH_JWT_SECRET');
  const jwksUrl = readJwksUrl(env);
  const keyConfigured = jwtSecret !== undefined || jwksUrl !== undefined;
  return {
    mode: env.oneOf('AUTH_MODE', ['jwt', 'none'] as const, demo && !keyConfigured ? 'none' : D.AUTH_MODE.value),
    jwtSecret,
    jwksUrl,
    allowNoExp: env.boolean('AUTH_ALLOW_NO_EXP', D.AUTH_ALLOW_NO_EXP.value),
    audience: env.optionalString('AUTH_AUDIENCE'),
    issuer: env.optionalString('AUTH_ISSUER'),
    corsOrigins: readOrigins(env),
  };
}

// Keys fetched over plain HTTP could be swapped by anyone on the path; only a loopback JWKS (a sidecar, tests) may skip TLS.
// A user and password in the URL would be written into every deployment's configuration, and fetch() refuses a URL that
// carries them, so every token would fail: refused here, with the credentials left out of the message.
function readJwksUrl(env: EnvReader): string | undefined {
  const value = env.url('AUTH_JWKS_URL', ['https:', 'http:']);
  if (value === undefined) return undefined;
  const url = new URL(value);
  if (url.username !== '' || url.password !== '') throw new ConfigError('AUTH_JWKS_URL', 'a URL without user:password@ (a JWKS document is public)', redactUrl(value));
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol === 'http:' && !loopback) throw new ConfigError('AUTH_JWKS_URL', 'an https:// URL (http:// only for localhost or 127.0.0.0/8)', value);
  return value;
}

// An entry that is not an exact origin (a `*`, a path, a trailing slash) would never match, or match too much.
function readOrigins(env: EnvReader): string[] {
  const origins = env.list('CORS_ORIGINS');
  const bad = origins.find((origin) => !isExactOrigin(origin));
  if (bad !== undefined) throw new ConfigError('CORS_ORIGINS', 'a comma-separated list of exact origins like https://app.example.com (no *, path or trailing slash)', bad);
  return origins;
}
