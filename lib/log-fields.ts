/**
 * The fields of one log line as JSON text: always valid JSON on one line, never a credential, never an exception.
 * Errors keep their type, message, stack, cause and own fields (an SDK error's `code`, `$metadata`); cycles, BigInts,
 * throwing getters and deep nesting are written as markers instead of failing the line.
 */

const REDACTED = '[redacted]';

/**
 * Field names that hold credentials, redacted wherever they appear, at any depth (compared lower-case): an error from
 * an HTTP client or an SDK may carry the request's headers. The core never logs a token; this is the second line of
 * defence.
 */
const CREDENTIAL_KEYS: ReadonlySet<string> = new Set([
  'token', 'access_token', 'refresh_token', 'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'password',
]);

/** Top-level fields that would hold a message payload: the core never logs one, and a field named so is redacted. */
const PAYLOAD_KEYS: ReadonlySet<string> = new Set(['data']);

/**
 * Arrays that hold the arguments of a command that failed, at any depth: an ioredis error carries its command as
 * `command: { name, args }`, and the args of an XADD, LPUSH or publish script are the message data and idempotency key.
 * Only their number is written.
 */
const ARGUMENT_KEYS: ReadonlySet<string> = new Set(['args']);

/** Deeper than this, an object is written as `[Object]`: a log line stays small whatever it is given. */
const MAX_DEPTH = 6;

const isCredential = (key: string): boolean => CREDENTIAL_KEYS.has(key.toLowerCase());

/** `,"key":value` for each field worth writing, to splice into a JSON object; '' when there are none. */
export function fieldsJson(fields: object): string {
  let json = '';
  for (const key of Object.keys(fields)) {
    const value = PAYLOAD_KEYS.has(key) || isCredential(key) ? REDACTED : plain(read(fields, key), 1, [fields]);
    if (value !== undefined) json += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  }
  return json;
}

/** A JSON-safe copy of `value`: what `JSON.stringify` can write without throwing or losing an error's message. */
function plain(value: unknown, depth: number, ancestors: object[]): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value === null || typeof value !== 'object') return value;
  if (ancestors.includes(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[Object]';
  // A Buffer's toJSON is an array of every byte: its size says enough.
  if (ArrayBuffer.isView(value)) return `[${value.constructor.name} ${value.byteLength} bytes]`;
  ancestors.push(value);
  try {
    if (value instanceof Error) return errorFields(value, depth, ancestors);
    if (Array.isArray(value)) return value.map((item: unknown) => plain(item, depth + 1, ancestors) ?? null);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return plain(attempt(() => toJSON.call(value) as unknown), depth + 1, ancestors);
    return objectFields(value, depth, ancestors);
  } finally {
    ancestors.pop();
  }
}

function objectFields(value: object, depth: number, ancestors: object[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const field = read(value, key);
    fields[key] = isCredential(key) ? REDACTED
      : ARGUMENT_KEYS.has(key) && Array.isArray(field) ? `[redacted: ${field.length} arguments]`
        : plain(field, depth + 1, ancestors);
  }
  return fields;
}

/** As pino's error serializer writes one: `type` (the class), `message`, `stack`, then `cause` and the own fields. */
function errorFields(error: Error, depth: number, ancestors: object[]): Record<string, unknown> {
  const type = (Object.getPrototypeOf(error) as { constructor?: { name?: string } } | null)?.constructor?.name || error.name;
  const fields: Record<string, unknown> = { type, message: error.message, stack: error.stack };
  if (error.cause !== undefined) fields['cause'] = plain(error.cause, depth + 1, ancestors);
  if (error instanceof AggregateError) fields['errors'] = plain(error.errors, depth + 1, ancestors);
  return { ...fields, ...objectFields(error, depth, ancestors) };
}

/** A property read that cannot throw (a getter may). */
function read(value: object, key: string): unknown {
  return attempt(() => (value as Record<string, unknown>)[key]);
}

function attempt(get: () => unknown): unknown {
  try {
    return get();
  } catch (error) {
    return `[unreadable: ${error instanceof Error ? error.message : String(error)}]`;
  }
}
