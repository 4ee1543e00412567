// nginx in front of the storm benchmark's two relays, from the project's own nginx/sse-relay.conf: its `listen` moved to
// a loopback port (backlog kept, reuseport added so two workers share the clients) and its upstream holding both
// relays, one marked `down`. `moveTo(port)` marks the other one down and reloads, as ingress-nginx does when the
// endpoints of a terminating pod change.
/* global URL, setTimeout, clearTimeout */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, FILE_LIMIT } from './servers.mjs';

const NGINX = '/usr/sbin/nginx';
const SITE = new URL('../nginx/sse-relay.conf', import.meta.url);
const TEMPS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];

function site(port, live, down) {
  const text = readFileSync(SITE, 'utf8');
  // Plain HTTP only: the TLS listeners and their certificate go, the access log is off in main().
  const edits = [
    [/server 127\.0\.0\.1:8080( [^;]*)?;/, `server 127.0.0.1:${live}$1; server 127.0.0.1:${down} down;`],
    [/listen 80( backlog=\d+)?;/, `listen 127.0.0.1:${port}$1 reuseport;`],
    [/listen \[::\]:80( backlog=\d+)?;/, ''],
    [/listen 443 ssl http2( backlog=\d+)?;/, ''],
    [/listen \[::\]:443 ssl http2( backlog=\d+)?;/, ''],
    [/ssl_certificate [^;]+;/, ''],
    [/ssl_certificate_key [^;]+;/, ''],
    [/access_log \/var\/log\/nginx\/[^;]+;/g, 'access_log off;'],
    // The routes' own error logs (critical errors only) stay out of the system's /var/log/nginx as well.
    [/error_log \/var\/log\/nginx\/[^;]+;/g, 'error_log stderr crit;'],
  ];
  let out = text;
  for (const [pattern, replacement] of edits) {
    if (!pattern.test(out)) throw new Error(`nginx/sse-relay.conf no longer contains ${pattern.source}`);
    out = out.replace(pattern, replacement);
  }
  return out;
}

function main(dir) {
  const temps = TEMPS.map((t) => `  ${t}_temp_path ${join(dir, t)};`).join('\n');
  return `user root;\nworker_processes 2;\nworker_rlimit_nofile ${FILE_LIMIT};\npid ${join(dir, 'nginx.pid')};\n` +
    `events { worker_connections 16384; }\nhttp {\n  access_log off;\n${temps}\n  include ${join(dir, 'site.conf')};\n}\n`;
}

function workersStarted(dir) {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8').match(/start worker process \d+/g)?.length ?? 0;
  } catch {
    return 0;
  }
}

/** Starts nginx on a free loopback port in front of `live` (and `down`, marked down). */
export async function startNginxFront(live, down) {
  const dir = mkdtempSync(join(tmpdir(), 'sse-relay-storm-nginx-'));
  for (const temp of TEMPS) mkdirSync(join(dir, temp));
  const port = await freePort();
  writeFileSync(join(dir, 'site.conf'), site(port, live, down));
  writeFileSync(join(dir, 'nginx.conf'), main(dir));
  const child = spawn('/bin/sh', ['-c', `ulimit -n ${FILE_LIMIT}; exec ${NGINX} -p ${dir}/ -e ${join(dir, 'error.log')} -c ${join(dir, 'nginx.conf')} -g 'daemon off; error_log ${join(dir, 'error.log')} notice;'`], { stdio: 'ignore' });
  const deadline = Date.now() + 5_000;
  while (workersStarted(dir) < 2) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start; see ${dir}/error.log`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const moveTo = async (next, previous) => {
    const before = workersStarted(dir);
    writeFileSync(join(dir, 'site.conf'), site(port, next, previous));
    child.kill('SIGHUP');
    const until = Date.now() + 5_000;
    while (workersStarted(dir) < before + 2) {
      if (Date.now() > until) throw new Error(`nginx did not reload; see ${dir}/error.log`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { port, moveTo, stop };
}
