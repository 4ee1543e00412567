import { SignJWT } from 'jose';
import { isValidPattern, MAX_PATTERNS } from '../lib/auth/patterns.js';

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

/** The options, with the name a caller used to JWT libraries may try instead (`expiresIn`, `sub`…). */
const OPTION_NAMES: Readonly<Record<string, string>> = {
  secret: 'secret', subscribe: 'subscribe', publish: 'publish', ttl: 'ttl', subject: 'subject', audience: 'audience', issuer: 'issuer',
  expiresIn: 'ttl', exp: 'ttl', sub: 'subject', aud: 'audience', iss: 'issuer', topics: 'subscribe or publish', key: 'secret',
};

/**
 * Signs an HS256 token with the `sse` claim the relay checks. For your backend's token endpoint and for development
 * (`sse-relay token`); with a JWKS, sign with your identity provider instead.
 *
 * @throws {TypeError} options that are not an object, an unknown option (`expiresIn`: the lifetime is `ttl`), a missing
 *   secret or one that is not a string or bytes, a grant that is not an array of strings, a ttl that is neither a
 *   number nor a string, a subject, audience or issuer that is not a non-empty string.
 * @throws {RangeError} a secret under 32 bytes, no pattern at all, a pattern the relay does not accept or more than 256
 *   of them, a ttl that is not a positive whole number of seconds or a duration like `10m` (see parseTtl).
 */
export async function signToken(options: SignTokenOptions): Promise<string> {
  checkNames(options);
  const secret = secretBytes(options.secret);
  const claim = { subscribe: grant(options, 'subscribe'), publish: grant(options, 'publish') };
  if (claim.subscribe.length === 0 && claim.publish.length === 0) {
    throw new RangeError('signToken needs at least one pattern in subscribe or publish (e.g. subscribe: [\'orders\']): a token with neither is refused every topic by the relay');
  }
  let jwt = new SignJWT({ sse: claim }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + parseTtl(options.ttl ?? '1h'));
  const subject = claimText(options, 'subject');
  const audience = claimText(options, 'audience');
  const issuer = claimText(options, 'issuer');
  if (subject !== undefined) jwt = jwt.setSubject(subject);
  if (audience !== undefined) jwt = jwt.setAudience(audience);
  if (issuer !== undefined) jwt = jwt.setIssuer(issuer);
  return jwt.sign(secret);
}

function checkNames(options: unknown): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('signToken takes an options object { secret, subscribe?, publish?, ttl?, subject?, audience?, issuer? }');
  }
  for (const name of Object.keys(options)) {
    const meant = Object.hasOwn(OPTION_NAMES, name) ? OPTION_NAMES[name] : undefined;
    if (meant === name) continue;
    const hint = meant === undefined ? '' : ` (did you mean ${meant}?)`;
    throw new TypeError(`signToken: unknown option ${JSON.stringify(name.slice(0, 64))}${hint}; the options are secret, subscribe, publish, ttl, subject, audience, issuer`);
  }
}

/** The secret as bytes, at least 32 of them, as the relay requires of AUTH_JWT_SECRET. */
function secretBytes(secret: unknown): Uint8Array {
  if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
    // Most often process.env.AUTH_JWT_SECRET in a process where it is not set.
    throw new TypeError(`signToken needs secret, the relay's AUTH_JWT_SECRET as a string or bytes; got ${secret === null ? 'null' : typeof secret} (is AUTH_JWT_SECRET set in this process's environment?)`);
  }
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.byteLength < 32) {
    // The length only: the secret itself never goes into an error.
    throw new RangeError(`signToken secret is ${bytes.byteLength} bytes; it must be at least 32, as the relay's AUTH_JWT_SECRET (generate one with \`openssl rand -base64 48\` and give the relay the same)`);
  }
  return bytes;
}

/** One grant's patterns, each checked as the relay checks the claim (a token it would refuse is refused here). */
function grant(options: TokenGrants, name: keyof TokenGrants): string[] {
  const value: unknown = options[name];
  if (value === undefined) return [];
  // A string would be spread into one-letter patterns: a token for topics `o`, `r`, `d`… instead of `orders`.
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of topic patterns, e.g. ['orders']; got ${value === null ? 'null' : typeof value}`);
  if (value.length > MAX_PATTERNS) throw new RangeError(`${name} has ${value.length} patterns; the relay accepts at most ${MAX_PATTERNS} per grant (use a prefix such as user.42.*)`);
  value.forEach((pattern: unknown, i) => {
    if (typeof pattern !== 'string') throw new TypeError(`${name}[${i}] must be a string topic pattern; got ${pattern === null ? 'null' : typeof pattern}`);
    if (!isValidPattern(pattern)) {
      throw new RangeError(`${name}[${i}] ${JSON.stringify(pattern)} is not a topic pattern: a topic (letters, digits, _ . : -, up to 128), a topic prefix ending in * (user.42.*), or *`);
    }
  });
  return [...(value as string[])];
}

function claimText(options: SignTokenOptions, name: 'subject' | 'audience' | 'issuer'): string | undefined {
  const value: unknown = options[name];
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw new TypeError(`signToken ${name} must be a non-empty string; got ${value === '' ? 'an empty string' : value === null ? 'null' : typeof value}`);
  }
  return value;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/**
 * `90`, `90s`, `10m`, `1h`, `7d` → seconds.
 *
 * @throws {TypeError} a ttl that is neither a number nor a string.
 * @throws {RangeError} anything else that is not a positive whole number of seconds or such a duration, naming the forms.
 */
export function parseTtl(ttl: number | string): number {
  if (typeof ttl !== 'number' && typeof ttl !== 'string') throw new TypeError(`ttl must be a number of seconds or a string like 10m; got ${ttl === null ? 'null' : typeof ttl}`);
  const match = typeof ttl === 'number' ? [String(ttl), String(ttl), 's'] : /^(\d+)([smhd]?)$/.exec(ttl.trim());
  const seconds = match === null ? NaN : Number(match[1]) * (UNIT_SECONDS[match[2] || 's'] ?? NaN);
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new RangeError(`ttl must be a positive whole number of seconds or like 30s, 10m, 1h, 7d; got ${JSON.stringify(ttl)}`);
  return seconds;
}
