import { createRemoteJWKSet } from 'jose';
import { JwtAuthorizer } from '../lib/auth/jwt.js';
import { allowEveryone, type Authorizer } from '../lib/auth/authorizer.js';
import type { Config } from '../lib/config/index.js';
import type { Logger } from '../lib/logger.js';

/** The authorizer AUTH_MODE names: everyone (`none`), or JWTs checked with AUTH_JWT_SECRET and/or AUTH_JWKS_URL. */
export function buildAuthorizer(config: Config, logger?: Logger): Authorizer {
  const { auth } = config;
  if (auth.mode === 'none') return allowEveryone;
  return new JwtAuthorizer({
    secret: auth.jwtSecret === undefined ? undefined : new TextEncoder().encode(auth.jwtSecret),
    // jose caches the keys and refetches on an unknown `kid` (at most every 30 s), so key rotation needs no restart.
    jwks: auth.jwksUrl === undefined ? undefined : createRemoteJWKSet(new URL(auth.jwksUrl), { timeoutDuration: 5_000 }),
    audience: auth.audience,
    issuer: auth.issuer,
    allowNoExp: auth.allowNoExp,
    logger,
  });
}
