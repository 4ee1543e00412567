import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOG_FORMAT, NGINX_BIN } from '../support/nginx.js';
import { startNginxSite } from '../support/nginx-site.js';
import { REPO_ROOT } from './kustomize-render.js';

// Both nginx files pass `nginx -t` as a user would include them, and the SSE location of the whole-site config says
// exactly what the snippet says (the snippet is what the streaming test exercises through a real nginx).

const SITE = join(REPO_ROOT, 'nginx', 'sse-relay.conf');
const SNIPPET = join(REPO_ROOT, 'nginx', 'location-snippet.conf');

function nginxTest(httpBlock: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sse-relay-nginx-t-'));
  try {
    const conf = `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n${httpBlock}\n}\n`;
    writeFileSync(join(dir, 'nginx.conf'), conf);
    const run = spawnSync(NGINX_BIN, ['-t', '-q', '-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    if (run.error) throw new Error(`${NGINX_BIN} could not run (${run.error.message}); install it with \`apt-get install -y nginx\``);
    return { status: run.status, output: run.stderr + run.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The directives (comments and whitespace dropped) inside `location = /events { … }` of a config file. */
function eventsLocation(path: string): string[] {
  const text = readFileSync(path, 'utf8').replace(/#.*$/gm, '');
  const start = text.indexOf('location = /events {');
  if (start < 0) throw new Error(`${path} has no "location = /events {" block`);
  let depth = 0;
  let end = start;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}' && --depth === 0) {
      end = i;
      break;
    }
  }
  return text.slice(text.indexOf('{', start) + 1, end).split(/[;{}]/).map((d) => d.trim().replace(/\s+/g, ' ')).filter((d) => d !== '');
}

describe('nginx configuration files', () => {
  test('sse-relay.conf is a valid http-level include (with real certificate files in place of its placeholders)', async () => {
    // startNginxSite makes a certificate and rewrites the placeholder paths, ports and log paths; -t then checks it.
    const site = await startNginxSite(1);
    try {
      const result = nginxTest(`  include ${join(site.dir, 'site.conf')};`);
      expect(result).toEqual({ status: 0, output: '' });
    } finally {
      await site.stop();
    }
    expect(readFileSync(SITE, 'utf8')).toMatch(/^\s*ssl_certificate \/etc\/nginx\/tls\/sse-relay\.crt;$/m);
  });

  test('location-snippet.conf is valid inside an existing server block (with log-format.conf in http)', () => {
    const result = nginxTest(`  include ${LOG_FORMAT};\n  upstream sse_relay { server 127.0.0.1:8080; keepalive 8; }\n  server {\n    listen 127.0.0.1:8081;\n    include ${SNIPPET};\n  }`);
    expect(result).toEqual({ status: 0, output: '' });
  });

  test('nginx -t catches a broken file (the check is live)', () => {
    const result = nginxTest('  server { location = /events { proxy_buffering sometimes; } }');
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/proxy_buffering/);
  });

  test('the SSE location streams: HTTP/1.1, no buffering/cache/gzip, 1 h timeouts, forwarded headers', () => {
    const directives = eventsLocation(SNIPPET);
    for (const expected of [
      'proxy_pass http://sse_relay',
      'proxy_http_version 1.1',
      'proxy_set_header Connection ""',
      'proxy_buffering off',
      'proxy_cache off',
      'gzip off',
      'proxy_read_timeout 1h',
      'proxy_send_timeout 1h',
      'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for',
      'proxy_set_header X-Forwarded-Proto $scheme',
      'proxy_set_header X-Forwarded-Host $host',
      'proxy_set_header X-Request-Id $sse_relay_request_id',
    ]) expect(directives).toContain(expected);
  });

  test('the whole-site config streams /events exactly like the snippet', () => {
    expect(eventsLocation(SITE)).toEqual(eventsLocation(SNIPPET));
  });

  test('the whole-site upstream reuses connections', () => {
    const text = readFileSync(SITE, 'utf8');
    expect(text).toMatch(/upstream sse_relay \{[^}]*\bkeepalive \d+;[^}]*\}/);
  });
});
