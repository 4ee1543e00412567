import { allowEveryone, type Authorizer } from '../lib/authorizer.js';
import type { Config } from '../lib/config/index.js';

/** The authorizer AUTH_MODE names. */
export function buildAuthorizer(config: Config): Authorizer {
  if (config.auth.mode === 'none') return allowEveryone;
  throw new Error('AUTH_MODE=jwt is not available in this build; set AUTH_MODE=none');
}
