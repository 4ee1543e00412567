import { createRemoteJWKSet } from 'jose';
import { JwtAuthorizer } from '../lib/auth/jwt.js';
import type { AuthConfig } from '../lib/config/index.js';
import type { Logger } from '../lib/logger.js';

/** AUTH_MODE=jwt: tokens checked with AUTH_JWT_SECRET (HS256) and/or the keys of AUTH_JWKS_URL (RS256, ES256). */
export function buildJwtAuthorizer(auth: AuthConfig, logger?: Logger): JwtAuthorizer {
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
