import type { RelayRequest } from './http-types.js';

/** What a request may do, as established by an Authorizer. */
export interface Principal {
  /** Who it is (the token's `sub`), for logs and per-token limits; undefined when auth is off. */
  subject?: string | undefined;
  /** Epoch ms at which the credentials expire; an open stream ends then with a `retry:`. */
  expiresAt?: number | undefined;
  /** Whether this principal may read `topic` (replayed events are checked too). */
  maySubscribe(topic: string): boolean;
}

export type Action = 'subscribe' | 'publish';

/**
 * Decides who may subscribe to and publish on which topics. Throws RelayError `unauthorized` (no valid credentials) or
 * `forbidden` (valid, but not for these topics).
 */
export interface Authorizer {
  authorize(request: RelayRequest, action: Action, topics: readonly string[]): Promise<Principal>;
}

/** AUTH_MODE=none: everyone may do everything. Chosen explicitly, or by the demo. */
export const allowEveryone: Authorizer = {
  authorize: async () => ({ maySubscribe: () => true }),
};
