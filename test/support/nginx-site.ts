import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NGINX_BIN, type RunningNginx } from './nginx.js';
import { freePort, mainConf, TEMP_DIRS, waitUntilListening } from './nginx.js';

/** The whole-site config (demo page, /publish, /events, /metrics); test/support/nginx.ts runs the location snippet. */
export const SITE_CONF = fileURLToPath(new URL('../../nginx/sse-relay.conf', import.meta.url));


export interface RunningNginxSite extends RunningNginx {
  /**
   * Points the upstream at another port and reloads nginx (SIGHUP), as an orchestrator does when an endpoint leaves:
   * new connections go to `upstreamPort`, streams already open stay on the old workers until they end. Resolves once
   * the new workers have started.
   */
  repoint(upstreamPort: number): Promise<void>;
}

/**
 * Starts nginx with the real nginx/sse-relay.conf, its upstream pointed at `upstreamPort` and its `listen 80` moved to an
 * ephemeral 127.0.0.1 port (the IPv6 listen is dropped). Used where a browser must load the page through nginx.
 * Resolves once nginx accepts connections (within 5 s); rejects with its error log otherwise.
 */
export async function startNginxSite(upstreamPort: number): Promise<RunningNginxSite> {
  if (!existsSync(NGINX_BIN)) throw new Error(`${NGINX_BIN} not found: install it with \`apt-get install -y nginx\``);
  const dir = await mkdtemp(join(tmpdir(), 'sse-relay-nginx-site-'));
  for (const temp of TEMP_DIRS) await mkdir(join(dir, temp));
  const port = await freePort();
  await writeFile(join(dir, 'site.conf'), siteConf(await readFile(SITE_CONF, 'utf8'), port, upstreamPort));
  await writeFile(join(dir, 'nginx.conf'), mainConf(dir, `  include ${join(dir, 'site.conf')};`));
  const child = spawn(NGINX_BIN, ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  if (!(await waitUntilListening(child, port, 5_000))) {
    const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
    await stop(child, dir);
    throw new Error(`nginx (${SITE_CONF}) did not start on 127.0.0.1:${port}; error.log:\n${log}`);
  }
  const repoint = async (next: number): Promise<void> => {
    const workersBefore = await startedWorkers(dir);
    await writeFile(join(dir, 'site.conf'), siteConf(await readFile(SITE_CONF, 'utf8'), port, next));
    child.kill('SIGHUP');
    const deadline = Date.now() + 5_000;
    while ((await startedWorkers(dir)) <= workersBefore) {
      if (Date.now() > deadline) throw new Error(`nginx did not reload within 5 s; error.log is in ${dir}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { port, dir, stop: () => stop(child, dir), repoint };
}

/** How many worker processes the master has started so far (each reload starts new ones), from its error.log. */
async function startedWorkers(dir: string): Promise<number> {
  const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
  return log.match(/start worker process \d+/g)?.length ?? 0;
}

/** The site config with its address and upstream replaced; each replaced line must occur exactly once. */
function siteConf(text: string, port: number, upstreamPort: number): string {
  const edits: [RegExp, string][] = [
    [/server 127\.0\.0\.1:8080;/g, `server 127.0.0.1:${upstreamPort};`],
    [/listen 80;/g, `listen 127.0.0.1:${port};`],
    [/listen \[::\]:80;/g, ''],
  ];
  for (const [pattern, replacement] of edits) {
    const count = text.match(pattern)?.length ?? 0;
    if (count !== 1) throw new Error(`${SITE_CONF} must contain ${pattern.source} exactly once for the test to rewrite it; found ${count}`);
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
