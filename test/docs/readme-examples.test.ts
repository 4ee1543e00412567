import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { signToken } from '../../publisher/index.js';
import { launchChromium } from '../support/chromium.js';
import { CLI_JS } from '../support/cli-process.js';
import { freePort } from '../support/nginx.js';
import { adapt, readmeExamples } from '../support/readme-examples.js';
import { startRedis, type TestRedis } from '../support/redis-server.js';
import { epochOf, startRelay } from '../support/relay-server.js';
import { SseReader } from '../support/sse-reader.js';
import { startLocalSqs, type LocalSqs } from '../sqs/fauxqs.js';
import { waitFor } from '../support/wait-for.js';

// Every marked example of the README's "Subscribe with auth" and "Publish from your app" sections runs here, as
// written, against real servers: only the relay's address, the queue URL and SQS endpoint, and `npx sse-relay` (the
// built bin) are replaced. A frame published by an example must reach a subscriber exactly.

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
const examples = readmeExamples();
const SECRET = 'change-me-to-32-or-more-random-bytes!!'; // the README's own placeholder secret
const README_RELAY = 'https://relay.example.com';
const README_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/orders';

type Relay = Awaited<ReturnType<typeof startRelay>>;
let redis: TestRedis;
let sqs: LocalSqs;
let relay: Relay; // SOURCE=redis, auth on, CORS for http://localhost:<its port>
let adminToken: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  cleanups.push(() => redis.stop());
  const port = await freePort();
  relay = await startRelay({
    SOURCE: 'redis', REDIS_URL: redis.url, AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, PORT: String(port),
    CORS_ORIGINS: `http://localhost:${port}`, PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '200',
  });
  cleanups.push(() => relay.stop());
  adminToken = await signToken({ secret: SECRET, subscribe: ['*'], publish: ['*'], ttl: '10m' });
});
// Every relay here drains in 200 ms: at the default SHUTDOWN_DRAIN_MS (10 s) the streams still open at the end made
// the cleanup of three relays outlast the hook's 30 s.
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
});

/** A subscriber that is live (first `retry:` read) before the example publishes. */
async function subscribe(url: string, topic: string, token?: string): Promise<SseReader> {
  const reader = new SseReader(`${url}/events?topic=${topic}`, token === undefined ? {} : { authorization: `Bearer ${token}` });
  cleanups.push(async () => reader.close());
  await reader.until((r) => r.retries.length > 0 || r.status >= 400);
  expect(reader.status).toBe(200);
  return reader;
}

async function frames(reader: SseReader, n: number): Promise<[string, string][]> {
  await reader.until((r) => r.events.length >= n, 10_000);
  return reader.events.map((e) => [e.event ?? 'message', e.data]);
}

const cli = `node ${CLI_JS}`;
const shell = (code: string, env: Record<string, string> = {}): Promise<{ stdout: string }> =>
  run('bash', ['-euo', 'pipefail', '-c', code], { cwd: root, env: { ...process.env, ...env } });
const nodeModule = (code: string, env: Record<string, string> = {}): Promise<{ stdout: string }> =>
  run(process.execPath, ['--input-type=module', '-e', code], { cwd: root, env: { ...process.env, ...env } });

test('serve-auth: the relay starts with auth on and answers the app origin\'s preflight', async () => {
  const port = await freePort();
  const code = adapt(examples.get('serve-auth'), [['npx sse-relay serve', `exec ${cli} serve`]]);
  const child = spawn('bash', ['-c', code], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', SHUTDOWN_DRAIN_MS: '200' }, stdio: 'ignore' });
  const exited = new Promise((done) => child.once('exit', done));
  cleanups.push(async () => (child.kill('SIGKILL'), exited));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => fetch(`${url}/healthz`).then((r) => r.ok, () => false), 'the example relay to answer /healthz', { everyMs: 50 });
  const preflight = await fetch(`${url}/events`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-headers': 'authorization' } });
  expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  expect((await fetch(`${url}/events?topic=orders`)).status).toBe(401);
  child.kill('SIGTERM');
  await exited;
});

test('token-endpoint: signToken gives a token the relay accepts for the user\'s topics only', async () => {
  const code = `${adapt(examples.get('token-endpoint'), [])}\nconsole.log(await sseToken('42'));`;
  const token = (await nodeModule(code, { AUTH_JWT_SECRET: SECRET })).stdout.trim();
  const { payload } = await jwtVerify(token, new TextEncoder().encode(SECRET));
  expect(payload).toMatchObject({ sub: '42', sse: { subscribe: ['user.42.*', 'announcements'], publish: [] } });
  await subscribe(relay.url, 'user.42.inbox', token);
  const other = await fetch(`${relay.url}/events?topic=user.43.inbox`, { headers: { authorization: `Bearer ${token}` } });
  expect(other.status).toBe(403);
});

test('browser-client: runs in Chromium on another origin, gets a token from the app route, receives messages', async () => {
  const browser = await launchChromium();
  cleanups.push(() => browser.close());
  const page = await browser.context.newPage();
  const logs: string[] = [];
  page.on('console', (message) => logs.push(message.text()));
  const token = await signToken({ secret: SECRET, subscribe: ['user.42.*', 'announcements'], ttl: '10m' });
  let tokenRequests = 0;
  await page.route('**/api/sse-token', (route) => (tokenRequests++, route.fulfill({ status: 200, contentType: 'text/plain', body: token })));
  await page.goto(`http://localhost:${new URL(relay.url).port}/healthz`);
  const code = adapt(examples.get('browser-client'), [["from 'sse-relay/client'", "from '/sse-client.js'"], [README_RELAY, relay.url]]);
  await page.addScriptTag({ type: 'module', content: code });
  await waitFor(() => logs.includes('state open'), 'the page to log "state open"', { everyMs: 50 });
  const published = await fetch(`${relay.url}/publish`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ topic: 'user.42.inbox', data: { text: 'hello' } }),
  });
  const { id } = (await published.json()) as { id: string };
  await waitFor(() => logs.some((l) => l.startsWith('message')), 'the page to log a message', { everyMs: 50 });
  expect(logs.filter((l) => l.startsWith('message'))).toEqual([`message {"text":"hello"} announcements=0-0,user.42.inbox=${id}`]);
  expect(tokenRequests).toBe(1);
}, 30_000);

test('publish-curl: a development token from the CLI, then curl; the subscriber gets the frame', async () => {
  const reader = await subscribe(relay.url, 'orders', adminToken);
  const code = adapt(examples.get('publish-curl'), [['npx sse-relay', cli], [README_RELAY, relay.url]]);
  const { stdout } = await shell(code);
  expect(JSON.parse(stdout)).toEqual({ id: expect.stringMatching(/^\d+-\d+$/) });
  expect(await frames(reader, 1)).toEqual([['created', '{"id":42}']]);
  reader.close();
});

test('publisher-http and publisher-redis: the Node examples reach the subscriber as the same frames', async () => {
  const reader = await subscribe(relay.url, 'orders', adminToken);
  const publishToken = await signToken({ secret: SECRET, publish: ['orders'], ttl: '10m' });
  const { stdout } = await nodeModule(adapt(examples.get('publisher-http'), [[README_RELAY, relay.url]]), { SSE_RELAY_TOKEN: publishToken });
  expect(stdout.trim()).toMatch(/^\d+-\d+$/);
  await nodeModule(adapt(examples.get('publisher-redis'), []), { REDIS_URL: redis.url });
  expect(await frames(reader, 2)).toEqual([['created', '{"id":43,"total":"9.90"}'], ['created', '{"id":42}']]);
  reader.close();
});

test('redis-cli: XADD reaches SOURCE=redis subscribers, LPUSH reaches SOURCE=redis-list subscribers', async () => {
  const list = await startRelay({ SOURCE: 'redis-list', REDIS_URL: redis.url, REDIS_BLOCK_MS: '200', SHUTDOWN_DRAIN_MS: '200' });
  cleanups.push(() => list.stop());
  const streamReader = await subscribe(relay.url, 'orders', adminToken);
  const listReader = await subscribe(list.url, 'jobs');
  await shell(adapt(examples.get('redis-cli'), [['redis-cli ', `redis-cli -p ${redis.port} `]]));
  expect(await frames(streamReader, 1)).toEqual([['created', '{"id":42}']]);
  expect(await frames(listReader, 1)).toEqual([['progress', '{"pct":40}']]);
});

test('sqs-cli and sqs-sdk: the AWS CLI and SDK examples reach SOURCE=sqs subscribers', async () => {
  sqs = await startLocalSqs();
  cleanups.push(() => sqs.stop());
  const queueUrl = sqs.createQueue('orders');
  const relaySqs = await startRelay(sqs.env(queueUrl, { SQS_WAIT_SECONDS: '1', SHUTDOWN_DRAIN_MS: '200' }));
  cleanups.push(() => relaySqs.stop());
  const reader = await subscribe(relaySqs.url, 'orders');
  const aws = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1' };
  // The emulator's queue URLs name a host that does not resolve here, so both clients are pointed at its address.
  await which('aws', 'apt-get install -y awscli');
  await shell(adapt(examples.get('sqs-cli'), [['aws sqs ', `aws --endpoint-url ${sqs.endpoint} sqs `], [README_QUEUE, queueUrl]]), aws);
  await nodeModule(adapt(examples.get('sqs-sdk'), [[README_QUEUE, queueUrl], ['new SQSClient({})', `new SQSClient({ endpoint: '${sqs.endpoint}' })`]]), aws);
  expect(await frames(reader, 3)).toEqual([['created', '{"id":42}'], ['created', '{"id":42}'], ['created', '{"id":43}']]);
}, 30_000);

test('cli: publish, stdin lines and tail from the start, as the Command line section shows', async () => {
  const memory = await startRelay({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, PUBLISH_RATE_PER_MINUTE: '0', SHUTDOWN_DRAIN_MS: '200' });
  cleanups.push(() => memory.stop());
  const code = adapt(examples.get('cli'), [['npx sse-relay', cli], [README_RELAY, memory.url]]);
  const { stdout } = await shell(code, { SSE_RELAY_TOKEN: adminToken });
  const lines = stdout.trim().split('\n');
  // Memory-source ids are the server's start (ms), then a sequence number per topic.
  const epoch = epochOf(lines[0]);
  expect(lines.slice(0, 4)).toEqual([1, 2, 3, 4].map((n) => `${epoch}-${n}`));
  expect(lines.slice(4).map((l) => JSON.parse(l) as unknown)).toEqual([
    { id: `orders=${epoch}-1`, event: 'created', data: '{"id":42}' },
    { id: `orders=${epoch}-2`, event: 'message', data: '1' }, { id: `orders=${epoch}-3`, event: 'message', data: '2' }, { id: `orders=${epoch}-4`, event: 'message', data: '3' },
  ]);
});

async function which(command: string, install: string): Promise<void> {
  await run('bash', ['-c', `command -v ${command}`]).catch(() => {
    throw new Error(`${command} is not installed: ${install}`);
  });
}
