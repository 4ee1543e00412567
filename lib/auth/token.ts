import { RelayError } from '../errors.js';
import type { RelayRequest } from '../request.js';

/** Name of the cookie a token may arrive in (set it HttpOnly, Secure, SameSite=Strict on the relay's host). */
export const TOKEN_COOKIE = 'sse_token';

/** Query parameter a token may arrive in, for EventSource, which cannot send headers. Never logged. */
export const TOKEN_QUERY_PARAMETER = 'access_token';

/** Longer than any sane JWT; refusing early keeps verification work bounded. */
export const MAX_TOKEN_LENGTH = 8192;

/**
 * The bearer token of a request, looked for in this order: `Authorization: Bearer <token>`, the {@link TOKEN_COOKIE}
 * cookie, the {@link TOKEN_QUERY_PARAMETER} query parameter. Undefined when none is present. A token longer than
 * MAX_TOKEN_LENGTH is refused (`unauthorized`) before any verification work, with a message that says so.
 */
export function tokenOf(request: RelayRequest): string | undefined {
  const token = fromAuthorization(request.header('authorization')) ?? fromCookie(request.header('cookie')) ?? request.query.get(TOKEN_QUERY_PARAMETER) ?? undefined;
  if (token === undefined || token === '') return undefined;
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new RelayError('unauthorized', `the token is longer than ${MAX_TOKEN_LENGTH} characters; issue a shorter one (fewer or broader topic patterns in its sse claim)`);
  }
  return token;
}

function fromAuthorization(value: string | undefined): string | undefined {
  const match = value === undefined ? null : /^Bearer +(\S+) *$/i.exec(value);
  return match?.[1];
}

function fromCookie(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === TOKEN_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}
