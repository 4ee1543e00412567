import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type CryptoKey } from 'jose';
import type { Env } from '../../lib/config/index.js';
import { silentLogger, type Logger } from '../../lib/logger.js';
import { loadConfig } from '../../lib/config/index.js';
import { startServer, type RunningServer } from '../../functions/server.js';

/** HS256 secret of the security suites (32+ bytes, as loadConfig demands). */
export const SECRET = 'test-secret-that-is-at-least-32-bytes-long!';
export const AUDIENCE = 'sse-relay-tests';
export const ISSUER = 'https://issuer.test';

export type Relay = RunningServer & { url: string };

/** The real container server on an ephemeral loopback port, auth on (JWT, HS256) unless `env` says otherwise. */
export async function startSecureRelay(env: Env = {}, logger: Logger = silentLogger): Promise<Relay> {
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DRAIN_MS: '200', AUTH_JWT_SECRET: SECRET, AUTH_AUDIENCE: AUDIENCE, AUTH_ISSUER: ISSUER, ...env,
  });
  const running = await startServer(config, logger);
  return { ...running, url: `http://127.0.0.1:${running.port}` };
}

/** An HS256 token with sane defaults (right aud/iss, 10 min life); `claims` and `header` override. */
export async function hsToken(claims: JWTPayload = {}, expiresIn: string | number = '10m'): Promise<string> {
  return new SignJWT({ sub: 'alice', aud: AUDIENCE, iss: ISSUER, sse: { subscribe: ['*'], publish: ['*'] }, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(SECRET));
}

/** A JWT with `alg: none` (what an attacker sends hoping verification is skipped). */
export function unsignedToken(claims: JWTPayload): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** A JWKS served over loopback HTTP, and a signer for its key. */
export interface JwksServer {
  url: string;
  sign(claims: JWTPayload, expiresIn?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startJwksServer(alg: 'RS256' | 'ES256'): Promise<JwksServer> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg, use: 'sig' };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    sign: (claims, expiresIn = '10m') => signWith(privateKey, alg, claims, expiresIn),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function signWith(key: CryptoKey, alg: string, claims: JWTPayload, expiresIn: string): Promise<string> {
  return new SignJWT({ sub: 'bob', ...claims })
    .setProtectedHeader({ alg, kid: 'k1' })
    .setAudience(AUDIENCE)
    .setIssuer(ISSUER)
    .setExpirationTime(expiresIn)
    .sign(key);
}

/**
 * Sends `request` as raw bytes (no client library to sanitize it) and returns every byte the server sent, as latin1
 * text, once the server closes, `done(raw)` holds, or `timeoutMs` passes.
 */
export async function rawExchange(port: number, request: string | Buffer, done: (raw: string) => boolean = () => false, timeoutMs = 3_000): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let raw = '';
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const finish = (): void => (clearTimeout(timer), resolve());
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      if (done(raw)) finish();
    });
    socket.on('close', finish);
    socket.write(request);
  });
  socket.destroy();
  return raw;
}

/** The header block of a raw response, lower-cased names, as [name, value] pairs. */
export function headerLines(raw: string): string[] {
  return (raw.split('\r\n\r\n')[0] ?? '').split('\r\n').slice(1);
}

/**
 * Reads a Prometheus metric from /metrics: the sum of its series whose labels include `labels` (0 when a labelled
 * counter has no such series yet). Throws when the metric is not exported at all.
 */
export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  if (!new RegExp(`^# TYPE ${name} `, 'm').test(text)) throw new Error(`metric ${name} is not exported by /metrics`);
  let sum = 0;
  for (const [, labelText = '', value] of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
    const seen = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => seen[k] === v)) sum += Number(value);
  }
  return sum;
}
