// What `npm run smoke:lambda` is given, checked before the first request, and what a refused request means, so that a
// missing or mistyped URL or token is told as such (not as "fetch failed" or a bare 401). The token is never printed.
/* global URL, Buffer */

export const USAGE = 'usage: npm run smoke:lambda -- <stream-url> <publish-url> [--topic smoke-<random>] [--heartbeat-wait-ms 35000] [--prompt-ms 1000] [--json]\n'
  + '  the two function URLs of the stack (stream first), e.g. https://<id>.lambda-url.<region>.on.aws; token (authMode=jwt): SSE_RELAY_TOKEN';
const ROLES = ['the stream URL (first argument: the function URL of `stream`)', 'the publish URL (second argument: the function URL of `publish`)'];

/** An error whose message is the whole story: printed as it is, with the usage when `usage` is set. */
export class InputError extends Error {
  constructor(message, { usage = false } = {}) {
    super(usage ? `${message}\n${USAGE}` : message);
    this.name = 'InputError';
  }
}

/** The two URLs, each parsed and checked, without a trailing slash. */
export function checkUrls(positional) {
  if (positional.length < 2) throw new InputError(`missing ${ROLES.slice(positional.length).join(' and ')}`, { usage: true });
  if (positional.length > 2) throw new InputError(`too many arguments: ${positional.slice(2).map((a) => JSON.stringify(a)).join(' ')} (only the stream and the publish URL are positional)`, { usage: true });
  return positional.map((text, i) => {
    let url;
    try {
      url = new URL(text);
    } catch {
      throw new InputError(`${ROLES[i]} is not a URL: ${JSON.stringify(text)}`, { usage: true });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InputError(`${ROLES[i]} must be https:// (http:// for a local harness); got ${url.protocol}//…`, { usage: true });
    if (url.username !== '' || url.password !== '') throw new InputError(`${ROLES[i]} carries user:password@; a function URL takes none (the token goes in SSE_RELAY_TOKEN)`);
    if (url.search !== '' || url.hash !== '') throw new InputError(`${ROLES[i]} must be the function URL alone, without ?query or #fragment: the tool adds /events and /publish; got ${JSON.stringify(text)}`);
    return text.replace(/\/+$/, '');
  });
}

/** A number option's value; `name` for the message. */
export function numberOption(name, text) {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(n) || n < 0) throw new InputError(`${name} takes a number of milliseconds (0 or more); got ${text === undefined ? 'nothing' : JSON.stringify(text)}`, { usage: true });
  return n;
}

/**
 * SSE_RELAY_TOKEN, checked for the usual slips: `Bearer ` pasted with it, a line break from a file, something that is
 * not a JWT, an `exp` already past. Returns the headers to send (none when it is unset).
 */
export function tokenHeaders(token, now = Date.now()) {
  if (token === undefined || token === '') return {};
  if (/^bearer\s/i.test(token)) throw new InputError('SSE_RELAY_TOKEN starts with "Bearer ": give the token alone (the tool adds the Authorization header)');
  if (/\s/.test(token)) throw new InputError('SSE_RELAY_TOKEN holds a space or a line break (read from a file? strip it): a JWT has none');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part, i) => /^[A-Za-z0-9_-]*$/.test(part) && (i === 2 || part !== ''))) {
    throw new InputError(`SSE_RELAY_TOKEN is not a JWT (three base64url parts separated by dots; it has ${parts.length} part${parts.length === 1 ? '' : 's'}): sign one with \`sse-relay token --subscribe 'smoke-*' --publish 'smoke-*'\``);
  }
  let claims;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new InputError('SSE_RELAY_TOKEN is not a JWT: its middle part is not base64url-encoded JSON');
  }
  if (typeof claims?.exp === 'number' && claims.exp * 1000 <= now) {
    throw new InputError(`SSE_RELAY_TOKEN expired at ${new Date(claims.exp * 1000).toISOString()} (its exp claim): sign a new one`);
  }
  return { authorization: `Bearer ${token}` };
}

/** Why `what` (`GET <url>`, `POST <url>`) was refused with `status`, and what to do; `body` is the relay's JSON error. */
export function refusal(what, status, body, { hasToken, topic }) {
  const code = errorCode(body);
  const answered = `${what} answered ${status}${code ? ` (${code})` : ''}`;
  if (status === 401 && !hasToken) return `${answered}: the stack checks tokens (authMode=jwt) and SSE_RELAY_TOKEN is not set; set it to a JWT that may subscribe and publish on ${topic} (sse-relay token --subscribe '${topic}' --publish '${topic}')`;
  if (status === 401) return `${answered}: the token in SSE_RELAY_TOKEN was refused: signed with another secret or key than the stack's, expired, or for another audience or issuer`;
  if (status === 403) return `${answered}: the token in SSE_RELAY_TOKEN may not ${what.startsWith('GET') ? 'subscribe to' : 'publish on'} ${topic}; give it that topic (or smoke-*), or pass --topic with one it may use`;
  if (status === 404) return `${answered}: is it the right URL? The stream URL and the publish URL are the stack's two function URLs, stream first`;
  return `${answered}: ${body.slice(0, 200)}`;
}

function errorCode(body) {
  try {
    return String(JSON.parse(body).error ?? '');
  } catch {
    return '';
  }
}

/** A fetch() that failed before any answer, told with the URL and the system's reason (ENOTFOUND, ECONNREFUSED…). */
export function unreachable(url, error) {
  const cause = error?.cause;
  const reason = cause?.code ?? cause?.message ?? error?.message ?? String(error);
  return new InputError(`cannot reach ${url}: ${reason} (check the URL, and that the stack is deployed in that region)`);
}
