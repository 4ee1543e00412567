import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';
import { spawnOwned } from './owned-daemon.js';

/** The Debian nginx binary the tests run. */
export const NGINX_BIN = '/usr/sbin/nginx';
/** The snippet an existing nginx site includes to serve sse-relay; the helper includes the same file. */
export const LOCATION_SNIPPET = fileURLToPath(new URL('../../nginx/location-snippet.conf', import.meta.url));

export interface NginxOptions {
  /** Loopback port of the sse-relay (or stand-in) server that nginx proxies to. */
  upstreamPort: number;
  /** Replaces the snippet's `proxy_read_timeout` (e.g. `'2s'`) so timeout tests take seconds. Default: the snippet's 1h. */
  proxyReadTimeout?: string;
  /** How long to wait for nginx to accept connections, ms. Default 5000. */
  startTimeoutMs?: number;
}

export interface RunningNginx {
  /** Loopback port nginx listens on (127.0.0.1). */
  port: number;
  /** Folder holding the generated config, error.log, access.log and nginx.pid. */
  dir: string;
  /** Stops nginx by the pid in its pid file and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Starts nginx on an ephemeral loopback port with the real location-snippet.conf in its server block, proxying to
 * `upstreamPort`. Resolves once nginx accepts connections; rejects with its error log if it does not start.
 */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  if (!existsSync(NGINX_BIN)) throw new Error(`${NGINX_BIN} not found: install it with \`apt-get install -y nginx\``);
  const dir = await mkdtemp(join(tmpdir(), 'sse-relay-nginx-'));
  for (const temp of TEMP_DIRS) await mkdir(join(dir, temp));
  const snippet = await snippetPath(dir, options.proxyReadTimeout);
  // Another process may take the free port between our probe and nginx's bind; try a few ports.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    await writeFile(join(dir, 'nginx.conf'), nginxConf(dir, port, options.upstreamPort, snippet));
    const child = spawnOwned(NGINX_BIN, ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' }, 'SIGTERM');
    const started = await waitUntilListening(child, port, options.startTimeoutMs ?? 5_000);
    if (started) return { port, dir, stop: () => stopNginx(child, dir) };
    const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
    if (attempt >= 3 || !log.includes('Address already in use')) {
      await stopNginx(child, dir);
      throw new Error(`nginx did not start on 127.0.0.1:${port}; error.log:\n${log}`);
    }
  }
}

/** A copy of the real snippet in `dir`, its logs moved into `dir` and its single proxy_read_timeout replaced if asked. */
async function snippetPath(dir: string, proxyReadTimeout: string | undefined): Promise<string> {
  let text = (await readFile(LOCATION_SNIPPET, 'utf8')).replaceAll('/var/log/nginx/', `${dir}/`);
  if (proxyReadTimeout !== undefined) {
    if (!/^\d+(ms|s|m)?$/.test(proxyReadTimeout)) throw new Error(`proxyReadTimeout must be an nginx time like '2s'; got ${proxyReadTimeout}`);
    const pattern = /proxy_read_timeout\s+[^;]+;/g;
    const count = text.match(pattern)?.length ?? 0;
    if (count !== 1) throw new Error(`${LOCATION_SNIPPET} must set proxy_read_timeout exactly once to be overridden; found ${count}`);
    text = text.replace(pattern, `proxy_read_timeout ${proxyReadTimeout};`);
  }
  const copy = join(dir, 'location-snippet.conf');
  await writeFile(copy, text);
  return copy;
}

/** The http-level log format the snippet's locations use (nginx/log-format.conf). */
export const LOG_FORMAT = fileURLToPath(new URL('../../nginx/log-format.conf', import.meta.url));

/** nginx's temp folders, kept inside the run's own folder. */
export const TEMP_DIRS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];

/**
 * A main nginx.conf that keeps everything (pid, logs, temp folders) inside the run's folder `dir`, with `httpBody` as the
 * inside of its http block. `workerConnections` (default 256) counts both sides: each proxied stream takes two.
 */
export function mainConf(dir: string, httpBody: string, workerConnections = 256): string {
  const temps = TEMP_DIRS.map((t) => `  ${t}_temp_path ${join(dir, t)};`).join('\n');
  // As root, workers would drop to `nobody`, who cannot enter the 0700 temp folder.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const files = workerConnections > 256 ? `worker_rlimit_nofile ${workerConnections + 64};\n` : '';
  return `${user}${files}worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events { worker_connections ${workerConnections}; }
http {
  access_log ${join(dir, 'access.log')};
${temps}
${httpBody}
}
`;
}

function nginxConf(dir: string, port: number, upstreamPort: number, snippet: string): string {
  return mainConf(dir, `  include ${LOG_FORMAT};
  upstream sse_relay { server 127.0.0.1:${upstreamPort}; keepalive 8; keepalive_timeout 4s; }
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
    # Like many sites, compress text by default: the snippet must switch it off for event streams.
    gzip on;
    gzip_min_length 1;
    gzip_types text/plain text/event-stream application/json;
    include ${snippet};
  }`);
}

/** A port the OS just handed out on 127.0.0.1 and that is free again. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  const address = server.address();
  await new Promise<void>((ok) => server.close(() => ok()));
  if (address === null || typeof address === 'string') throw new Error('could not read the probe server address');
  return address.port;
}

/** Polls with TCP connects until nginx accepts (true) or exits / the time is up (false). */
export async function waitUntilListening(child: ChildProcess, port: number, timeoutMs: number): Promise<boolean> {
  return waitFor(() => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('nginx exited');
    return new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1', () => (socket.destroy(), done(true)));
      socket.once('error', () => done(false));
    });
  }, `nginx to accept on 127.0.0.1:${port}`, { timeoutMs, everyMs: 50 }).catch(() => false);
}

/** Fast shutdown (SIGTERM closes open streams at once) of the master by its pid file, SIGKILL after 3 s. */
async function stopNginx(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const fromFile = Number((await readFile(join(dir, 'nginx.pid'), 'utf8').catch(() => '')).trim());
    const pid = Number.isInteger(fromFile) && fromFile > 0 ? fromFile : child.pid;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    signal(pid, 'SIGTERM');
    const timer = setTimeout(() => signal(child.pid, 'SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
}

/** Signals a process we started; it may have exited on its own meanwhile. */
function signal(pid: number | undefined, name: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
