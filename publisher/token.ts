import { SignJWT } from 'jose';
import { isValidPattern } from '../lib/auth/patterns.js';

/** What a token may do: topic patterns (`orders`, `user.123.*`, `*`) per action (docs/security.md). */
export interface TokenGrants {
  subscribe?: readonly string[];
  publish?: readonly string[];
}

export interface SignTokenOptions extends TokenGrants {
  /** The relay's AUTH_JWT_SECRET (at least 32 bytes). */
  secret: string | Uint8Array;
  /** Lifetime: seconds, or `30s`, `10m`, `1h`, `7d`. Default `1h`. */
  ttl?: number | string;
  /** `sub` claim (who it is, for logs and per-token limits). Default: none. */
  subject?: string;
  /** `aud` claim, when the relay sets AUTH_AUDIENCE. */
  audience?: string;
  /** `iss` claim, when the relay sets AUTH_ISSUER. */
  issuer?: string;
}

/**
 * Signs an HS256 token with the `sse` claim the relay checks. For your backend's token endpoint and for development
 * (`sse-relay token`); with a JWKS, sign with your identity provider instead.
 */
export async function signToken(options: SignTokenOptions): Promise<string> {
  const secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
  if (secret.byteLength < 32) throw new RangeError('the secret must be at least 32 bytes (as AUTH_JWT_SECRET)');
  for (const grant of ['subscribe', 'publish'] as const) {
    // A string would be spread into one-letter patterns: a token for topics `o`, `r`, `d`… instead of `orders`.
    if (options[grant] !== undefined && !Array.isArray(options[grant])) throw new TypeError(`${grant} must be an array of topic patterns, e.g. ['orders']`);
  }
  const claim = { subscribe: [...(options.subscribe ?? [])], publish: [...(options.publish ?? [])] };
  const bad = [...claim.subscribe, ...claim.publish].find((pattern) => !isValidPattern(pattern));
  if (bad !== undefined) throw new RangeError(`${JSON.stringify(bad)} is not a topic pattern: a topic, a topic prefix ending in *, or *`);
  let jwt = new SignJWT({ sse: claim }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + parseTtl(options.ttl ?? '1h'));
  if (options.subject !== undefined) jwt = jwt.setSubject(options.subject);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  return jwt.sign(secret);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/** `90`, `90s`, `10m`, `1h`, `7d` → seconds; throws RangeError naming the accepted forms. */
export function parseTtl(ttl: number | string): number {
  const match = typeof ttl === 'number' ? [String(ttl), String(ttl), 's'] : /^(\d+)([smhd]?)$/.exec(ttl.trim());
  const seconds = match === null ? NaN : Number(match[1]) * (UNIT_SECONDS[match[2] || 's'] ?? NaN);
  if (!Number.isInteger(seconds) || seconds <= 0) throw new RangeError(`ttl must be a positive number of seconds or like 30s, 10m, 1h, 7d; got ${JSON.stringify(ttl)}`);
  return seconds;
}
