import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { JwtAuthorizer, type JwtAuthorizerKeys } from '../lib/auth/jwt.js';
import { requireJwtKeys, type AuthConfig, type JwtKeys } from '../lib/config/index.js';
import type { Logger } from '../lib/logger.js';

/** AUTH_MODE=jwt: tokens checked with AUTH_JWT_SECRET (HS256) and/or the keys of AUTH_JWKS_URL (RS256, ES256). */
export function buildJwtAuthorizer(auth: AuthConfig, logger?: Logger): JwtAuthorizer {
  // loadConfig has checked the keys already; this only narrows the type, with the same rule and message.
  return new JwtAuthorizer({ ...authorizerKeys(requireJwtKeys(auth)), audience: auth.audience, issuer: auth.issuer, allowNoExp: auth.allowNoExp, logger });
}

function authorizerKeys(keys: JwtKeys): JwtAuthorizerKeys {
  // jose caches the keys and refetches on an unknown `kid` (at most every 30 s), so key rotation needs no restart.
  const remote = (url: string): JWTVerifyGetKey => createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000 });
  if (keys.secret === undefined) return { jwks: remote(keys.jwksUrl) };
  return { secret: new TextEncoder().encode(keys.secret), jwks: keys.jwksUrl === undefined ? undefined : remote(keys.jwksUrl) };
}
