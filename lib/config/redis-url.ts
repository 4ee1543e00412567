import { ConfigError } from './config-error.js';
import { redactUrl } from './env-reader.js';

/**
 * Refuses a REDIS_URL (already known to parse, with scheme `redis:` or `rediss:`) that ioredis would read as something
 * else than it says, each of which was seen on the built server:
 * - no host (`redis://`): ioredis connects to 127.0.0.1:6379, whatever Redis happens to be there;
 * - a path (or `?db=`, which ioredis also reads) that is not a database number (`redis://host/sse`, `/1.5`, `/-1`):
 *   ioredis reads it as NaN and uses database 0, silently;
 * - a user or password with a `%` that is not an escape (`p%zz`): ioredis's decodeURIComponent threw at startup, and
 *   the log named neither REDIS_URL nor the fix.
 */
export function checkRedisUrl(url: string): void {
  const parsed = new URL(url);
  const shown = redactUrl(url);
  if (parsed.hostname === '') {
    throw new ConfigError('REDIS_URL', 'a URL with a host (redis://host:6379); without one ioredis would connect to 127.0.0.1:6379', shown);
  }
  const db = parsed.searchParams.get('db');
  if (!/^\/?(\d{1,9})?$/.test(parsed.pathname) || (db !== null && !/^\d{1,9}$/.test(db))) {
    throw new ConfigError('REDIS_URL', 'a URL whose path is a database number or nothing (redis://host:6379/2); use REDIS_KEY_PREFIX to keep apart the keys of several apps', shown);
  }
  for (const part of [parsed.username, parsed.password]) {
    try {
      decodeURIComponent(part);
    } catch {
      throw new ConfigError('REDIS_URL', 'a URL whose user and password are percent-encoded (% as %25, @ as %40, : as %3A, / as %2F)', shown);
    }
  }
}
