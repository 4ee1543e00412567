import { RelayError } from '../errors.js';
import type { RelayRequest } from '../request.js';

/** What a request may do, as established by an Authorizer from its credentials alone. */
export interface Principal {
  /** Who it is (the token's `sub`), for logs; undefined when auth is off or the token has no `sub`. */
  subject?: string | undefined;
  /**
   * What per-token limits (PUBLISH_RATE_PER_MINUTE) count against: `subject:<sub>`, or `token:<digest>` for a token
   * without `sub`. Undefined when auth is off: the caller's address is used then.
   */
  limitKey?: string | undefined;
  /** Epoch ms at which the credentials expire; an open stream ends then with a `retry:`. */
  expiresAt?: number | undefined;
  /** Whether this principal may read `topic` (replayed events are checked too). */
  maySubscribe(topic: string): boolean;
  /** Whether this principal may publish to `topic`. */
  mayPublish(topic: string): boolean;
  /** False when the principal may not publish anywhere, so a publish is refused before its body is read. */
  readonly mayPublishAny: boolean;
}

export type Action = 'subscribe' | 'publish';

/**
 * Establishes who a request is from its headers (token in Authorization, cookie or query), without reading a body.
 * Throws RelayError `unauthorized` (no valid credentials) or `auth_unavailable` (the keys could not be fetched).
 */
export interface Authorizer {
  authenticate(request: RelayRequest): Promise<Principal>;
}

/** Throws `forbidden` unless `principal` may take `action` on every one of `topics`. */
export function assertAllowed(principal: Principal, action: Action, topics: readonly string[]): void {
  const allowed = action === 'subscribe' ? (t: string) => principal.maySubscribe(t) : (t: string) => principal.mayPublish(t);
  if (!topics.every(allowed)) throw new RelayError('forbidden', `the token does not allow ${action} on every requested topic`);
}

/** Authenticates, then checks `topics`: the whole decision for a request whose topics are known from its URL. */
export async function authorize(authorizer: Authorizer, request: RelayRequest, action: Action, topics: readonly string[]): Promise<Principal> {
  const principal = await authorizer.authenticate(request);
  assertAllowed(principal, action, topics);
  return principal;
}

/** AUTH_MODE=none: everyone may do everything. Chosen explicitly, or by the demo. */
export const allowEveryone: Authorizer = {
  authenticate: async () => ({ maySubscribe: () => true, mayPublish: () => true, mayPublishAny: true }),
};
