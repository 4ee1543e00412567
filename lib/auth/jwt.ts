import { createHash } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { compilePatterns, type TopicMatcher } from './patterns.js';
import { tokenOf } from './token.js';
import type { Authorizer, Principal } from './authorizer.js';
import { RelayError } from '../errors.js';
import type { RelayRequest } from '../request.js';
import { silentLogger, type Logger } from '../logger.js';

/** Algorithms accepted for keys from a JWKS. Anything else (and `none`) is refused before a key is looked up. */
export const JWKS_ALGORITHMS = ['RS256', 'ES256'] as const;

/**
 * The keys: an HS256 shared secret (AUTH_JWT_SECRET; tokens with `alg: HS256` are verified with it), a key lookup for
 * RS256/ES256 tokens (e.g. jose's createRemoteJWKSet(AUTH_JWKS_URL)), or both; never neither (lib/config checks that).
 */
export type JwtAuthorizerKeys =
  | { secret: Uint8Array; jwks?: JWTVerifyGetKey | undefined }
  | { secret?: Uint8Array | undefined; jwks: JWTVerifyGetKey };

export type JwtAuthorizerOptions = JwtAuthorizerKeys & {
  /** Required `aud` (AUTH_AUDIENCE); unchecked when undefined. */
  audience?: string | undefined;
  /** Required `iss` (AUTH_ISSUER); unchecked when undefined. */
  issuer?: string | undefined;
  /** Clock skew tolerated when checking `nbf` and `iat`, seconds (`exp` is enforced exactly). Default 5. */
  clockToleranceSeconds?: number;
  /** Accept tokens without `exp` (AUTH_ALLOW_NO_EXP). */
  allowNoExp: boolean;
  logger?: Logger;
};

/** The `sse` claim, compiled. */
interface Grants {
  subscribe: TopicMatcher;
  publish: TopicMatcher;
}

/**
 * Verifies a JWT (signature, algorithm, `exp`, `nbf`, `aud`, `iss`) and checks the topics against the token's
 * `sse: { subscribe: [patterns], publish: [patterns] }` claim (see auth-patterns.ts). No or a bad token: 401
 * `unauthorized`; a good token that does not cover every requested topic: 403 `forbidden`.
 */
export class JwtAuthorizer implements Authorizer {
  private readonly algorithms: string[];
  private readonly logger: Logger;

  constructor(private readonly options: JwtAuthorizerOptions) {
    this.algorithms = [...(options.secret ? ['HS256'] : []), ...(options.jwks ? JWKS_ALGORITHMS : [])];
    this.logger = options.logger ?? silentLogger;
  }

  async authenticate(request: RelayRequest): Promise<Principal> {
    const token = tokenOf(request);
    if (token === undefined) throw new RelayError('unauthorized', 'no token in Authorization, cookie or access_token');
    const payload = await this.verify(token);
    const grants = grantsOf(payload);
    if (grants === undefined) throw new RelayError('unauthorized', 'the token has a malformed sse claim');
    return {
      subject: typeof payload.sub === 'string' ? payload.sub : undefined,
      limitKey: limitKeyOf(payload, token),
      expiresAt: this.validUntil(payload),
      maySubscribe: (topic) => grants.subscribe.matches(topic),
      mayPublish: (topic) => grants.publish.matches(topic),
      mayPublishAny: grants.publish.matchesAny,
    };
  }

  /**
   * Epoch ms at which the token stops being accepted: its `exp`, exactly. jose's clock tolerance is for `nbf`/`iat` (an
   * issuer whose clock runs a little ahead); an expired token is refused here, before a connection slot is taken, and a
   * stream ends at `exp`. One rule, one place: nothing jose lets through is refused later for its expiry.
   */
  private validUntil(payload: JWTPayload): number | undefined {
    if (typeof payload.exp !== 'number') return undefined;
    const until = payload.exp * 1000;
    if (until <= Date.now()) throw new RelayError('unauthorized', 'token rejected: expired');
    return until;
  }

  private async verify(token: string): Promise<JWTPayload> {
    const { secret, jwks, audience, issuer, clockToleranceSeconds = DEFAULT_CLOCK_TOLERANCE_S, allowNoExp } = this.options;
    const requiredClaims = allowNoExp ? [] : ['exp'];
    const key: JWTVerifyGetKey = async (header, input) => {
      if (header.alg === 'HS256' && secret !== undefined) return secret;
      if (jwks !== undefined) return jwks(header, input);
      throw new errors.JOSEAlgNotAllowed(`alg ${header.alg} is not accepted`);
    };
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: this.algorithms, audience, issuer, clockTolerance: clockToleranceSeconds, requiredClaims,
      });
      return payload;
    } catch (error) {
      // A JWKS that cannot be fetched is our fault, not the client's: 503 with Retry-After, so a good token is not
      // told it is bad, and a warning for us.
      const ours = !(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid;
      if (ours) {
        this.logger.warn({ err: error }, 'token verification failed on our side (JWKS unreachable or invalid?)');
        throw new RelayError('auth_unavailable', 'the JWKS could not be fetched', { cause: error, retryAfterSeconds: 5 });
      }
      const reason = error instanceof errors.JOSEError ? error.code : 'verification failed';
      // No cause: a JOSE claim error carries the token's payload, which is not logged.
      throw new RelayError('unauthorized', `token rejected: ${reason}`);
    }
  }
}

const DEFAULT_CLOCK_TOLERANCE_S = 5;

const NOTHING: TopicMatcher = { matches: () => false, matchesAny: false };

function grantsOf(payload: JWTPayload): Grants | undefined {
  const claim = payload['sse'];
  if (claim === undefined) return { subscribe: NOTHING, publish: NOTHING };
  if (typeof claim !== 'object' || claim === null || Array.isArray(claim)) return undefined;
  const { subscribe, publish } = claim as Record<string, unknown>;
  const subscribeMatcher = compilePatterns(subscribe);
  const publishMatcher = compilePatterns(publish);
  if (subscribeMatcher === undefined || publishMatcher === undefined) return undefined;
  return { subscribe: subscribeMatcher, publish: publishMatcher };
}

/**
 * The key a token's rate limit counts against: its subject, or a digest of the token itself when it has none (a
 * `sse-relay token` without --sub). Never the caller's address: behind an Ingress every caller has the controller's.
 */
function limitKeyOf(payload: JWTPayload, token: string): string {
  if (typeof payload.sub === 'string') return `subject:${payload.sub}`;
  return `token:${createHash('sha256').update(token).digest('base64url').slice(0, 22)}`;
}
