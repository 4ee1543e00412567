import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/lambda/bundle-functions.js';

// `npm run smoke:lambda` given a missing or malformed URL or token, or answered 401/403/404: each is told as what it is,
// before or instead of "fetch failed" or a bare status, and the token is never printed. The stack here is a stand-in
// that answers every request with the relay's error body for the status its path names (the relay itself answers
// these in test/lambda/smoke-lambda.test.ts).
const run = promisify(execFile);
const TOKEN_SECRET_PART = 'c2lnbmF0dXJlLXNlY3JldA';
const VALID_TOKEN = `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: 'smoke', exp: 4102444800 })).toString('base64url')}.${TOKEN_SECRET_PART}`;
const EXPIRED_TOKEN = `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: 'smoke', exp: 1700000000 })).toString('base64url')}.${TOKEN_SECRET_PART}`;
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    const status = Number(/^\/(\d{3})\//.exec(request.url ?? '')?.[1] ?? 404);
    const error = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found' }[status] ?? 'internal';
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** stderr of a run that must fail (exit 1). */
async function refused(args: string[], token?: string): Promise<string> {
  const env = { PATH: process.env['PATH'] ?? '', ...(token === undefined ? {} : { SSE_RELAY_TOKEN: token }) };
  const result = await run(process.execPath, [join(REPO_ROOT, 'scripts', 'smoke-lambda.mjs'), ...args, '--heartbeat-wait-ms', '0'], { env, timeout: 20_000 })
    .then(() => undefined, (error: unknown) => error as { code: number; stderr: string });
  expect(result?.code).toBe(1);
  return result?.stderr ?? '';
}

describe('npm run smoke:lambda, told what is wrong', () => {
  it.each([
    [[], 'smoke:lambda: missing the stream URL (first argument: the function URL of `stream`) and the publish URL (second argument'],
    [['https://abc.lambda-url.eu-west-1.on.aws'], 'smoke:lambda: missing the publish URL (second argument: the function URL of `publish`)'],
    [['abc.lambda-url.eu-west-1.on.aws', 'https://def.lambda-url.eu-west-1.on.aws'], 'smoke:lambda: the stream URL (first argument: the function URL of `stream`) is not a URL: "abc.lambda-url.eu-west-1.on.aws"'],
    [['https://abc.lambda-url.eu-west-1.on.aws', 'ftp://def'], 'smoke:lambda: the publish URL (second argument: the function URL of `publish`) must be https://'],
    [['https://abc.lambda-url.eu-west-1.on.aws/events?topic=a', 'https://def.lambda-url.eu-west-1.on.aws'], 'must be the function URL alone, without ?query'],
    [['https://a.example', 'https://b.example', 'https://c.example'], 'too many arguments: "https://c.example"'],
    [['https://a.example', 'https://b.example', '--prompt-ms', 'soon'], '--prompt-ms takes a number of milliseconds (0 or more); got "soon"'],
    [['https://a.example', 'https://b.example', '--topics', 'x'], 'unknown option --topics'],
  ])('%j', async (args, message) => {
    const stderr = await refused(args);
    expect(stderr).toContain(message);
  });

  it.each([
    [`Bearer ${VALID_TOKEN}`, 'SSE_RELAY_TOKEN starts with "Bearer ": give the token alone'],
    [`${VALID_TOKEN}\n`, 'SSE_RELAY_TOKEN holds a space or a line break'],
    [`${TOKEN_SECRET_PART}`, 'SSE_RELAY_TOKEN is not a JWT (three base64url parts separated by dots; it has 1 part)'],
    [EXPIRED_TOKEN, 'SSE_RELAY_TOKEN expired at 2023-11-14T22:13:20.000Z (its exp claim): sign a new one'],
  ])('a token like %j is refused before any request, and not printed', async (token, message) => {
    const stderr = await refused([`${base}/200`, `${base}/200`], token);
    expect(stderr).toContain(message);
    expect(stderr).not.toContain(TOKEN_SECRET_PART);
  });

  it('says a 401 without a token needs SSE_RELAY_TOKEN, and with one that the stack refused it', async () => {
    const topic = ['--topic', 'smoke-x'];
    expect(await refused([`${base}/401`, `${base}/401`, ...topic])).toContain(`GET ${base}/401/events?topic=smoke-x answered 401 (unauthorized): the stack checks tokens (authMode=jwt) and SSE_RELAY_TOKEN is not set; set it to a JWT that may subscribe and publish on smoke-x`);
    const withToken = await refused([`${base}/401`, `${base}/401`, ...topic], VALID_TOKEN);
    expect(withToken).toContain('answered 401 (unauthorized): the token in SSE_RELAY_TOKEN was refused: signed with another secret or key than the stack\'s, expired, or for another audience or issuer');
    expect(withToken).not.toContain(TOKEN_SECRET_PART);
    expect(await refused([`${base}/403`, `${base}/403`, ...topic], VALID_TOKEN)).toContain('answered 403 (forbidden): the token in SSE_RELAY_TOKEN may not subscribe to smoke-x');
    expect(await refused([`${base}/404`, `${base}/404`, ...topic])).toContain('answered 404 (not_found): is it the right URL?');
  });

  it('names the URL it cannot reach and why', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await refused([`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`, '--topic', 'smoke-x'])).toContain(`smoke:lambda: cannot reach http://127.0.0.1:${port}/events?topic=smoke-x: ECONNREFUSED`);
  });
});
