import { allowEveryone, type Authorizer } from '../lib/auth/authorizer.js';
import type { Config } from '../lib/config/index.js';
import type { Logger } from '../lib/logger.js';

/**
 * The authorizer AUTH_MODE names: everyone (`none`), or JWTs checked with AUTH_JWT_SECRET and/or AUTH_JWKS_URL.
 * jose is imported only for `jwt`, so a function without auth never parses it (issue #17, point 4).
 */
export async function buildAuthorizer(config: Config, logger?: Logger): Promise<Authorizer> {
  if (config.auth.mode === 'none') return allowEveryone;
  return (await import('./build-jwt-authorizer.js')).buildJwtAuthorizer(config.auth, logger);
}
