import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from '../../functions/logger.js';
import { ERROR_CODES } from '../../lib/errors.js';
import { rawExchange, startSecureRelay, type Relay } from './support.js';
import { waitFor } from '../support/wait-for.js';

// A request node:http cannot read to its end is answered like every other bad request: a 4xx with a JSON error code,
// and a log line, never an empty body or a silent answer.

const lines: string[] = [];
let relay: Relay;

beforeAll(async () => {
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
  relay = await startSecureRelay({ AUTH_MODE: 'none', REQUEST_TIMEOUT_MS: '400' }, createLogger('debug', sink));
});
afterAll(async () => relay.stop());

/** The body of a raw answer (everything after the header block). */
function bodyOf(raw: string): string {
  return raw.slice(raw.indexOf('\r\n\r\n') + 4);
}

/** The log lines logged from now on that match `test`, once there is one. */
async function loggedAfter(mark: number, test: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(() => (found = lines.slice(mark).map((l) => JSON.parse(l) as Record<string, unknown>).find(test)) !== undefined, 'the log line');
  return found as Record<string, unknown>;
}

describe('requests that cannot be read', () => {
  it.each([
    ['a malformed header line', 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n', 400, 'invalid_request'],
    ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', 400, 'invalid_request'],
    ['Content-Length beside Transfer-Encoding', 'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'invalid_request'],
    ['headers larger than node:http reads', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`, 431, 'headers_too_large'],
  ] as const)('%s: a 4xx with a JSON error code and a log line', async (_name, request, status, code) => {
    const mark = lines.length;
    const raw = await rawExchange(relay.port, request, (text) => text.includes('}'));
    expect(raw).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(raw.toLowerCase()).toContain('content-type: application/json');
    // The parser's own refusals: the code's documented meaning (nothing of the bytes that could not be read).
    expect(JSON.parse(bodyOf(raw))).toEqual({ error: code, message: ERROR_CODES[code].message });
    await loggedAfter(mark, (line) => line['status'] === status);
  });

  it('headers that miss REQUEST_TIMEOUT_MS get 408 request_timeout as JSON', async () => {
    const raw = await rawExchange(relay.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', (text) => text.includes('}'), 5_000);
    expect(raw).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(bodyOf(raw))).toMatchObject({ error: 'request_timeout' });
  });

  it('an HTTP/1.1 request without Host gets 400 invalid_request as JSON, and a log line', async () => {
    const mark = lines.length;
    const raw = await rawExchange(relay.port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', (text) => text.includes('}'));
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(bodyOf(raw))).toMatchObject({ error: 'invalid_request' });
    await loggedAfter(mark, (line) => line['status'] === 400 && line['path'] === '(invalid request target)');
    // HTTP/1.0 never needed Host.
    const old = await rawExchange(relay.port, 'GET /healthz HTTP/1.0\r\n\r\n', (text) => text.includes('}'));
    expect(old).toMatch(/^HTTP\/1\.[01] 200 /);
  });
});
