import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NGINX_BIN, type RunningNginx } from './nginx.js';
import { freePort, mainConf, TEMP_DIRS, waitUntilListening } from './nginx.js';
import { waitFor } from './wait-for.js';
import { spawnOwned } from './owned-daemon.js';

/** The whole-site config (demo page, /publish, /events, /metrics); test/support/nginx.ts runs the location snippet. */
export const SITE_CONF = fileURLToPath(new URL('../../nginx/sse-relay.conf', import.meta.url));


export interface RunningNginxSite extends RunningNginx {
  /** Loopback port of the site's TLS + HTTP/2 listener (its `listen 443 ssl http2`), with a self-signed certificate. */
  tlsPort: number;
  /** The self-signed certificate (PEM) nginx presents on `tlsPort`, for clients that pin it. */
  certificate: string;
  /** The site's access log (its `access_log`, moved into the run's folder). */
  accessLog: string;
  /**
   * Points the upstream at another port and reloads nginx (SIGHUP), as an orchestrator does when an endpoint leaves:
   * new connections go to `upstreamPort`, streams already open stay on the old workers until they end. Resolves once
   * the new workers have started.
   */
  repoint(upstreamPort: number): Promise<void>;
}

export interface NginxSiteOptions {
  /** nginx `worker_connections` (one worker); every proxied stream takes two. Default 256. */
  workerConnections?: number;
  /** `backlog=` of the plain-HTTP listen socket (nginx's own default on Linux is 511). */
  backlog?: number;
}

/**
 * Starts nginx with the real nginx/sse-relay.conf, its upstream pointed at `upstream` (one port, or several: one
 * `server` line each, as a deployment with several relay processes has), its `listen 80` and
 * `listen 443 ssl http2` moved to ephemeral 127.0.0.1 ports (the IPv6 listens are dropped), a self-signed certificate made
 * with openssl for 127.0.0.1, and its logs in the run's folder. Used where a browser must load the page through nginx.
 * Resolves once nginx accepts connections (within 5 s); rejects with its error log otherwise.
 */
export async function startNginxSite(upstream: number | readonly number[], options: NginxSiteOptions = {}): Promise<RunningNginxSite> {
  if (!existsSync(NGINX_BIN)) throw new Error(`${NGINX_BIN} not found: install it with \`apt-get install -y nginx\``);
  const dir = await mkdtemp(join(tmpdir(), 'sse-relay-nginx-site-'));
  for (const temp of TEMP_DIRS) await mkdir(join(dir, temp));
  const port = await freePort();
  const tlsPort = await freePort();
  const certificate = selfSignedCertificate(dir);
  const siteConf = (text: string, to: number | readonly number[]): string =>
    rewriteSite(text, { dir, port, tlsPort, upstream: to, ...(options.backlog === undefined ? {} : { backlog: options.backlog }) });
  await writeFile(join(dir, 'site.conf'), siteConf(await readFile(SITE_CONF, 'utf8'), upstream));
  await writeFile(join(dir, 'nginx.conf'), mainConf(dir, `  include ${join(dir, 'site.conf')};`, options.workerConnections));
  const child = spawnOwned(NGINX_BIN, ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' }, 'SIGTERM');
  if (!(await waitUntilListening(child, port, 5_000))) {
    const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
    await stop(child, dir);
    throw new Error(`nginx (${SITE_CONF}) did not start on 127.0.0.1:${port}; error.log:\n${log}`);
  }
  const repoint = async (next: number): Promise<void> => {
    const workersBefore = await startedWorkers(dir);
    await writeFile(join(dir, 'site.conf'), siteConf(await readFile(SITE_CONF, 'utf8'), next));
    child.kill('SIGHUP');
    await waitFor(async () => (await startedWorkers(dir)) > workersBefore, `nginx to reload (error.log is in ${dir})`, { timeoutMs: 5_000, everyMs: 10 });
  };
  return { port, tlsPort, certificate, accessLog: join(dir, 'sse-relay.access.log'), dir, stop: () => stop(child, dir), repoint };
}

/** How many worker processes the master has started so far (each reload starts new ones), from its error.log. */
async function startedWorkers(dir: string): Promise<number> {
  const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
  return log.match(/start worker process \d+/g)?.length ?? 0;
}

/** A self-signed certificate and key for 127.0.0.1 in `dir` (tls.crt, tls.key), made by openssl; returns the PEM. */
function selfSignedCertificate(dir: string): string {
  const run = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')], { encoding: 'utf8' });
  if (run.error !== undefined || run.status !== 0) throw new Error(`openssl could not make a test certificate (${run.error?.message ?? run.stderr}); install it with \`apt-get install -y openssl\``);
  return readFileSync(join(dir, 'tls.crt'), 'utf8');
}

interface SiteAddresses { dir: string; port: number; tlsPort: number; upstream: number | readonly number[]; backlog?: number }

/** The site config with its addresses, upstream, certificate and log paths replaced; each must occur as often as listed. */
function rewriteSite(text: string, { dir, port, tlsPort, upstream, backlog }: SiteAddresses): string {
  // Each server keeps the parameters the site gives its one server line (max_fails=0 …).
  const parameters = /server 127\.0\.0\.1:8080([^;]*);/.exec(text)?.[1] ?? '';
  const servers = (typeof upstream === 'number' ? [upstream] : upstream).map((p) => `server 127.0.0.1:${p}${parameters};`).join('\n    ');
  const edits: [RegExp, string, number][] = [
    [/server 127\.0\.0\.1:8080[^;]*;/g, servers, 1],
    // The accept queue stays as the site asks for it (backlog=…) unless a caller sets its own: the storm benchmark goes
    // through the same file.
    [/listen 80( backlog=\d+)?;/g, `listen 127.0.0.1:${port}${backlog === undefined ? '$1' : ` backlog=${backlog}`};`, 1],
    [/listen \[::\]:80( backlog=\d+)?;/g, '', 1],
    [/listen 443 ssl http2( backlog=\d+)?;/g, `listen 127.0.0.1:${tlsPort} ssl http2$1;`, 1],
    [/listen \[::\]:443 ssl http2( backlog=\d+)?;/g, '', 1],
    [/ssl_certificate \/etc\/nginx\/tls\/sse-relay\.crt;/g, `ssl_certificate ${join(dir, 'tls.crt')};`, 1],
    [/ssl_certificate_key \/etc\/nginx\/tls\/sse-relay\.key;/g, `ssl_certificate_key ${join(dir, 'tls.key')};`, 1],
    [/\/var\/log\/nginx\//g, `${dir}/`, 7],
  ];
  for (const [pattern, replacement, times] of edits) {
    const count = text.match(pattern)?.length ?? 0;
    if (count !== times) throw new Error(`${SITE_CONF} must contain ${pattern.source} ${times} time(s) for the test to rewrite it; found ${count}`);
    text = text.replace(pattern, replacement);
  }
  return text;
}

/** Fast shutdown of the master we started (by its pid), SIGKILL after 3 s, then the folder goes. */
async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
}
