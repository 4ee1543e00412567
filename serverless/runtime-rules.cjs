'use strict';
// The rules the functions apply to the variables the parameters become, written here once more because this plugin is
// plain CommonJS loaded by the serverless CLI and cannot import lib/ (TypeScript). test/lambda/package-checks.test.ts
// runs both on the same values and fails when they disagree: a value the package step takes must not stop a function
// at init (a 500 to every request of a stack that deployed), and a value the functions take is not refused here
// unless the template itself cannot carry it.

/** lib/sse/topics.ts TOPIC_PATTERN: every topic, in a request, a message, SQS_QUEUE_TOPICS. */
const TOPIC_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** lib/config/lambda-config.ts FLUSH_PADDING_RANGE: 0 (off), or a padding line of 2 to 65,536 bytes. */
const FLUSH_PADDING_RANGE = { min: 2, max: 65536 };

/** lib/request.ts isExactOrigin (CORS_ORIGINS): an origin in its exact serialized form, scheme, host and port only. */
function isExactOrigin(value) {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value && !value.includes('*');
  } catch {
    return false;
  }
}

/** lib/config/env-reader.ts EnvReader.integer: trimmed, digits with an optional sign; NaN when malformed, undefined when empty. */
function readInteger(value) {
  const text = String(value === undefined || value === null ? '' : value).trim();
  if (text === '') return undefined;
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  return Number.isSafeInteger(n) ? n : NaN;
}

/**
 * Why `value` cannot be jwksUrl (AUTH_JWKS_URL), or undefined. The functions take https, and http for a loopback host
 * only (a sidecar beside a container); a Lambda sandbox has no such sidecar, so https only here. A user and password
 * would be written into the template and the functions' configuration, and fetch() refuses such a URL.
 */
function jwksUrlProblem(value) {
  let url;
  try {
    url = new URL(String(value));
  } catch {
    return 'is not a URL';
  }
  if (url.username !== '' || url.password !== '') return 'carries user:password@, which would be written into the CloudFormation template (and fetch() refuses such a URL); a JWKS document is public: give its URL alone';
  if (url.protocol !== 'https:' || !/^https:\/\/\S+$/.test(String(value))) return 'must be https:// (keys fetched over plain HTTP could be swapped on the way)';
  return undefined;
}

/**
 * Why `value` cannot be redisUrl (REDIS_URL) for the functions, or undefined (lib/config/env-reader.ts url and
 * lib/config/redis-url.ts checkRedisUrl): a redis:// or rediss:// URL with a host, and a database number or nothing as
 * its path (ioredis reads any other path as database 0, silently). Credentials are the plugin's own matter.
 */
function redisUrlProblem(value) {
  let url;
  try {
    url = new URL(String(value).trim());
  } catch {
    url = undefined;
  }
  if (url === undefined || !['redis:', 'rediss:'].includes(url.protocol)) return 'must be a redis:// or rediss:// URL';
  if (url.hostname === '') return 'must name a host (rediss://host:6379); without one ioredis connects to localhost, inside the sandbox';
  const db = url.searchParams.get('db');
  if (!/^\/?(\d{1,9})?$/.test(url.pathname) || (db !== null && !/^\d{1,9}$/.test(db))) return 'must have a database number or nothing as its path (rediss://host:6380/2)';
  return undefined;
}

/** What the redacted form of a URL may show in a message: no user or password (lib/config/env-reader.ts redactUrl). */
function redactUrl(value) {
  return String(value).replace(/\/\/.*@/, '//***@');
}

module.exports = { FLUSH_PADDING_RANGE, TOPIC_PATTERN, isExactOrigin, jwksUrlProblem, readInteger, redactUrl, redisUrlProblem };
