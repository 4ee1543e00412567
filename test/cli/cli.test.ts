import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { signToken } from '../../publisher/index.js';
import { CLI_JS, runCli, startCli } from '../support/cli-process.js';
import { startRelay } from '../support/relay-server.js';
import { startServerProcess } from '../support/server-process.js';
import { waitFor } from '../support/wait-for.js';

// The built `sse-relay` bin, run as a child process against the real server with auth on.

const SECRET = 'cli-test-secret-that-is-32-bytes-long!';
let relay: Awaited<ReturnType<typeof startRelay>>;
let publishToken: string;
let subscribeToken: string;

beforeAll(async () => {
  // Streams end every 1.5 s, so `tail` has to reconnect and resume several times within one test.
  relay = await startRelay({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, MAX_SESSION_MS: '1500', RETRY_MS: '100', PUBLISH_RATE_PER_MINUTE: '0' });
  publishToken = await signToken({ secret: SECRET, publish: ['orders', 'logs'], ttl: '10m' });
  subscribeToken = await signToken({ secret: SECRET, subscribe: ['orders', 'logs'], ttl: '10m' });
});
afterAll(async () => relay?.stop());

describe('usage', () => {
  it('--help on every command exits 0; no command, an unknown one or an unknown option exits 2 with the usage', async () => {
    const helps = [['--help'], ['serve', '--help'], ['token', '--help'], ['publish', '--help'], ['tail', '-h']];
    for (const [args, result] of await Promise.all(helps.map(async (args) => [args, await runCli(args)] as const))) {
      expect([args, result.code]).toEqual([args, 0]);
      expect(result.stdout).toMatch(/^sse-relay /);
    }
    const bad = [[], ['frobnicate'], ['publish', '--bogus'], ['publish', '--url', 'ftp://x', 't', 'd'], ['tail', '--url', 'http://x']];
    for (const [args, result] of await Promise.all(bad.map(async (args) => [args, await runCli(args)] as const))) {
      expect([args, result.code]).toEqual([args, 2]);
      expect(result.stderr).toContain('sse-relay');
    }
  });
});

describe('number flags', () => {
  it('--retries and --count take digits only: 3x, -1, 1e3, 0x10, " 3" and empty are refused naming the flag, the value and the form', async () => {
    // Number() took 1e3 (a thousand retries), 0x10, " 3" and "" (0 retries); -1 got parseArgs' "ambiguous" only.
    const cases = [['publish', '--retries'], ['tail', '--count']] as const;
    const runs = cases.flatMap(([command, flag]) => ['3x', '-1', '1e3', '0x10', ' 3', ''].map((value) => [command, flag, value] as const));
    for (const [command, flag, value] of runs) {
      const result = await runCli([command, '--url', 'http://127.0.0.1:9', flag, value, 'orders', ...(command === 'publish' ? ['x'] : [])]);
      expect([command, flag, value, result.code]).toEqual([command, flag, value, 2]);
      expect(result.stderr).toContain(`${flag} takes a whole number ${flag === '--count' ? 1 : 0} or more, in digits only (e.g. ${flag} `);
      expect(result.stderr).toContain(`got ${JSON.stringify(value)}`);
    }
    const port = await runCli(['serve', '--port', '-1']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('--port takes a whole number from 0 to 65535, in digits only (e.g. --port 8080); got "-1"');
  });
});

describe('token', () => {
  it('prints an HS256 token with the sse claim and the lifetime asked for', async () => {
    const result = await runCli(['token', '--subscribe', 'orders', '--subscribe', 'user.7.*', '--publish', 'orders', '--ttl', '10m', '--sub', 'dev'], { AUTH_JWT_SECRET: SECRET });
    expect(result.code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(result.stdout.trim(), new TextEncoder().encode(SECRET));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.sse).toEqual({ subscribe: ['orders', 'user.7.*'], publish: ['orders'] });
    expect(payload.sub).toBe('dev');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(600);
    // The `--subscribe <pattern>…` form: several patterns after one flag.
    const listed = await runCli(['token', '--subscribe', 'orders', 'user.7.*', '--publish', 'orders', 'logs'], { AUTH_JWT_SECRET: SECRET });
    expect(listed.code).toBe(0);
    expect((await jwtVerify(listed.stdout.trim(), new TextEncoder().encode(SECRET))).payload.sse).toEqual({ subscribe: ['orders', 'user.7.*'], publish: ['orders', 'logs'] });
  });

  it('exits 2 without AUTH_JWT_SECRET, with a bad ttl or a pattern the relay would refuse', async () => {
    expect((await runCli(['token', '--subscribe', 'orders'])).stderr).toContain('AUTH_JWT_SECRET');
    for (const args of [['--subscribe', 'orders'], ['--subscribe', 'orders', '--ttl', '10 minutes'], ['--subscribe', 'user.*.inbox'], [], ['--ttl', '10m', 'orders']]) {
      const env: Record<string, string> = args.length === 2 ? {} : { AUTH_JWT_SECRET: SECRET };
      expect([args, (await runCli(['token', ...args], env)).code]).toEqual([args, 2]);
    }
  });
});

describe('publish and tail', () => {
  it('publishes one message and one per stdin line; tail prints each as a JSON line, resuming across stream ends', async () => {
    const tail = startCli(['tail', '--url', relay.url, '--count', '12', 'orders', 'logs'], { SSE_RELAY_TOKEN: subscribeToken });
    await waitFor(() => tail.stderr().includes('open'), 'tail to open its stream');
    const one = await runCli(['publish', '--url', relay.url, '--token', publishToken, '--event', 'created', '--id', 'o-1', 'orders', '{"id":1}']);
    expect(one).toMatchObject({ code: 0, stderr: '' });
    const lines = Array.from({ length: 10 }, (_v, i) => `line ${i + 1}: "quoted", ünïcode`);
    // Stdin one per line, each printed by tail before the next; after the 3rd and the 7th a stream end (every 1.5 s)
    // and tail's reconnect fall between them.
    const many = startCli(['publish', '--url', relay.url, '--id', 'batch', 'logs'], { SSE_RELAY_TOKEN: publishToken }, null);
    const opens = (): number => (tail.stderr().match(/open/g) ?? []).length;
    const printedLines = (): number => tail.stdout().split('\n').filter((l) => l !== '').length;
    for (const [i, line] of lines.entries()) {
      many.child.stdin.write(`${line}\n`);
      await waitFor(() => printedLines() === i + 2, `tail to print line ${i + 1}`);
      if (i === 2 || i === 6) {
        const before = opens();
        await waitFor(() => opens() > before, `tail to reopen after a stream end (line ${i + 1})`);
      }
    }
    many.child.stdin.end();
    const extra = await runCli(['publish', '--url', relay.url, 'logs', 'last'], { SSE_RELAY_TOKEN: publishToken });
    const manyResult = await many.done;
    expect(manyResult.code).toBe(0);
    const ids = [one.stdout.trim(), ...manyResult.stdout.trim().split('\n'), extra.stdout.trim()];
    expect(ids).toHaveLength(12);

    const tailed = await tail.done;
    expect(tailed.code).toBe(0);
    const printed = tailed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; event: string; data: string });
    expect(printed.map(({ event, data }) => [event, data])).toEqual([['created', '{"id":1}'], ...lines.map((l) => ['message', l]), ['message', 'last']]);
    // Each id is the cursor over both topics, so the positions the publisher got appear in them, in order.
    expect(printed.map((p, i) => p.id.includes(`=${ids[i]}`))).toEqual(ids.map(() => true));
    expect((tailed.stderr.match(/open/g) ?? []).length).toBeGreaterThan(1); // it did reconnect and resume

    // Re-running the same stdin with the same --id stores nothing twice: the same ids come back.
    const again = await runCli(['publish', '--url', relay.url, '--id', 'batch', 'logs'], { SSE_RELAY_TOKEN: publishToken }, `${lines.join('\n')}\n`);
    expect(again.stdout.trim().split('\n')).toEqual(manyResult.stdout.trim().split('\n'));

    // --last-event-id resumes after a printed line: exactly what followed it.
    const resumed = await runCli(['tail', '--url', relay.url, '--token', subscribeToken, '--last-event-id', printed[9]?.id ?? '', '--count', '2', 'orders', 'logs']);
    expect(resumed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { data: string }).data)).toEqual([lines[9], 'last']);
    // --count stops at n lines even when more events come in the same chunk (a replay of everything since the start).
    const counted = await runCli(['tail', '--url', relay.url, '--token', subscribeToken, '--last-event-id', printed[0]?.id ?? '', '--count', '3', 'orders', 'logs']);
    expect(counted.stdout.trim().split('\n')).toHaveLength(3);
  }, 30_000);

  it('exit codes: 1 when the relay refuses (no grant, bad token), 3 when it cannot be reached', async () => {
    const forbidden = await runCli(['publish', '--url', relay.url, '--token', subscribeToken, 'orders', 'x']);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('forbidden');
    expect((await runCli(['publish', '--url', relay.url, 'orders', 'x'])).code).toBe(1);
    expect((await runCli(['publish', '--url', relay.url, '--token', publishToken, 'no such topic!', 'x'])).code).toBe(1);
    const unreachable = await runCli(['publish', '--url', 'http://127.0.0.1:1', '--retries', '0', 'orders', 'x']);
    expect(unreachable.code).toBe(3);
    const tailForbidden = await runCli(['tail', '--url', relay.url, '--token', publishToken, 'orders']);
    expect(tailForbidden.code).toBe(1);
    expect(tailForbidden.stderr).toContain('forbidden (403 forbidden: ');
    const tailUnauthorized = await runCli(['tail', '--url', relay.url, 'orders']);
    expect(tailUnauthorized.code).toBe(1);
    expect(tailUnauthorized.stderr).toContain('401 unauthorized');
  });

  it('tail says why it was refused: the relay\'s own message, and for a url that names a route, that --url is the base', async () => {
    const forbidden = await runCli(['tail', '--url', relay.url, '--token', subscribeToken, 'secrets']);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/forbidden \(403 forbidden: .*subscribe/);
    const unauthorized = await runCli(['tail', '--url', relay.url, '--token', 'not-a-jwt', 'orders']);
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toContain('401 unauthorized: token rejected');
    const route = await runCli(['tail', '--url', `${relay.url}/events`, '--token', subscribeToken, 'orders']);
    expect(route.code).toBe(1);
    expect(route.stderr).toContain('--url is the relay\'s base URL');
  });
});

describe('in a pipeline', () => {
  it('a reader that goes away (| head -1) ends tail and publish quietly with 141, not an EPIPE stack', async () => {
    // Before: "Error: write EPIPE … Unhandled 'error' event" and its stack on stderr, exit 1.
    const lines = Array.from({ length: 2000 }, (_v, i) => `line ${i}`).join('\n');
    const publishing = startCli(['publish', '--url', relay.url, '--token', publishToken, 'logs'], {}, null);
    const tailing = startCli(['tail', '--url', relay.url, '--token', subscribeToken, '--last-event-id', 'logs=0', 'logs']);
    for (const run of [publishing, tailing]) {
      // The first line read, the pipe's read end is closed, as `head -1` does when it exits.
      run.child.stdout.once('data', () => run.child.stdout.destroy());
    }
    publishing.child.stdin.end(`${lines}\n`);
    // tail writes only when an event comes, so (as `tail -f | head -1`) it meets the closed pipe at its next write. The
    // CLI publisher may have stopped, its own reader gone, before tail's first chunk held everything it sent: events
    // keep coming until tail has ended (bounded), or tail waits for one and is killed at the helper's deadline.
    let tailEnded = false;
    void tailing.done.then(() => (tailEnded = true));
    for (let i = 0; i < 100 && !tailEnded; i += 1) {
      await fetch(`${relay.url}/publish`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${publishToken}` }, body: JSON.stringify({ topic: 'logs', data: `more ${i}` }),
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const run of [await publishing.done, await tailing.done]) {
      expect(run.code).toBe(141);
      expect(run.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    }
  });
});

describe('publish: stdin and stderr', () => {
  it('a refused line of stdin is named by its number, after the ids of the lines before it', async () => {
    const result = await runCli(['publish', '--url', relay.url, '--token', publishToken, 'logs'], {}, `first\n\nthird\n${'x'.repeat(70_000)}\nfifth\n`);
    expect(result.code).toBe(1);
    expect(result.stdout.trim().split('\n')).toHaveLength(2);
    expect(result.stderr).toMatch(/^sse-relay publish: line 4 of stdin: .*MAX_MESSAGE_BYTES.*lines 1–3 were published/);
  });

  it('retries are announced on stderr; stdout has only the id', async () => {
    // A relay that answers 503 once, then 202: before, the wait was silent.
    let calls = 0;
    const flaky = createHttpServer((req, res) => {
      req.resume().on('end', () => {
        calls += 1;
        res.writeHead(calls === 1 ? 503 : 202, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify(calls === 1 ? { error: 'source_unavailable' } : { id: 'the-id' }));
      });
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    try {
      const result = await runCli(['publish', '--url', `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`, 'orders', 'x']);
      expect(result).toMatchObject({ code: 0, stdout: 'the-id\n' });
      expect(result.stderr).toBe('sse-relay publish: the relay answered 503 source_unavailable; attempt 2 of 6 in 1.0 s\n');
    } finally {
      flaky.close();
    }
  });
});

describe('tail on a queue source with QUEUE_ACK=client', () => {
  it('--ack acknowledges what it printed: the queue is empty after it, and nothing is printed twice', async () => {
    const { startRedis } = await import('../support/redis-server.js');
    const { Redis } = await import('ioredis');
    const redis = await startRedis();
    const raw = new Redis(redis.url);
    // Before --ack, tail printed the same three messages again after every QUEUE_ACK_TIMEOUT_MS (15 lines in 8 s).
    const queue = await startRelay({ SOURCE: 'redis-list', REDIS_URL: redis.url, QUEUE_ACK: 'client', QUEUE_ACK_TIMEOUT_MS: '1000', RETRY_MS: '100', PUBLISH_RATE_PER_MINUTE: '0' });
    try {
      for (const n of [1, 2, 3]) expect((await runCli(['publish', '--url', queue.url, 'jobs', `job ${n}`])).code).toBe(0);
      const tail = startCli(['tail', '--url', queue.url, '--ack', 'jobs']);
      await waitFor(() => tail.stdout().split('\n').filter((l) => l !== '').length >= 3, 'three jobs printed', { timeoutMs: 10_000, everyMs: 50 });
      const held = async (): Promise<number> => {
        let count = await raw.llen('sse:q:jobs');
        for (const key of await raw.keys('sse:q:jobs#processing:*')) count += await raw.llen(key);
        return count;
      };
      await waitFor(async () => (await held()) === 0, 'the three jobs acknowledged and gone from Redis', { timeoutMs: 10_000, everyMs: 50 });
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // twice the ack timeout: an unacknowledged job would come back here
      tail.child.kill('SIGINT');
      const { code, stdout } = await tail.done;
      expect(code).toBe(0);
      expect(stdout.trim().split('\n').map((line) => (JSON.parse(line) as { data: string }).data)).toEqual(['job 1', 'job 2', 'job 3']);
    } finally {
      await queue.stop();
      raw.disconnect();
      await redis.stop();
    }
  }, 30_000);
});

describe('serve', () => {
  it('a port already taken, or a HOST that is not this machine, stops the start naming the variable and the fix', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const port = String((holder.address() as AddressInfo).port);
      const taken = await runCli(['serve', '--demo', '--port', port], { HOST: '127.0.0.1' });
      expect(taken.code).toBe(1);
      expect(taken.stdout + taken.stderr).toMatch(new RegExp(`configuration error: PORT: port ${port} on 127\\.0\\.0\\.1 is already in use; .*set PORT to a free port`));
      const metrics = await runCli(['serve', '--demo', '--port', '0'], { HOST: '127.0.0.1', METRICS_PORT: port });
      expect(metrics.code).toBe(1);
      expect(metrics.stdout + metrics.stderr).toMatch(/configuration error: METRICS_PORT: .* is already in use/);
      // 192.0.2.1 (TEST-NET-1) is never an address of this machine: the bind fails at once, nothing is sent.
      const foreign = await runCli(['serve', '--demo', '--port', '0'], { HOST: '192.0.2.1' });
      expect(foreign.code).toBe(1);
      expect(foreign.stdout + foreign.stderr).toMatch(/configuration error: HOST: 192\.0\.2\.1 is not an address of this machine/);
      for (const run of [taken, metrics, foreign]) expect(run.stdout + run.stderr).not.toMatch(/Unhandled 'error' event|\n\s+at /);
    } finally {
      holder.close();
    }
  });

  it('runs the server (demo mode with --demo) and stops cleanly on SIGTERM', async () => {
    const server = await startServerProcess({ AUTH_MODE: 'none', SHUTDOWN_DRAIN_MS: '200' }, 10_000, [CLI_JS, 'serve', '--demo', '--port', '0']);
    try {
      const tail = await runCli(['tail', '--url', server.url, '--count', '1', 'demo']);
      expect(tail.code).toBe(0);
      expect(JSON.parse(tail.stdout)).toMatchObject({ event: expect.stringMatching(/^(record|system-alert)$/) });
    } finally {
      await server.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  });
});
