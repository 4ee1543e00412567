import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { freePort } from '../support/nginx.js';
import { contextCopies, readDockerfile } from './dockerfile-parse.js';
import { REPO_ROOT } from './kustomize-render.js';
import { waitFor } from '../support/wait-for.js';

// No Docker engine here: both stages are simulated. The build stage's COPY list (read from the Dockerfile) is applied to
// an empty folder and `npm run build` must compile there, with nothing else of the repository at hand. The runtime
// stage's COPY list is applied to another — package*.json, that build's dist/, public/ — with the production
// dependencies only (what `npm ci --omit=dev --omit=optional` installs, copied, not linked, so nothing resolves into
// the dev tree), and `node dist/functions/server.js` must start there and serve the page, the API and the metrics listener.

const buildDir = mkdtempSync(join(tmpdir(), 'sse-relay-build-'));
const app = mkdtempSync(join(tmpdir(), 'sse-relay-runtime-'));
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; optionalDependencies?: Record<string, string> };
let server: ChildProcess | undefined;
let port = 0;
let metricsPort = 0;

/**
 * Applies the build stage's COPY lines from the context, links the dependencies its `npm ci` installs (all but the
 * optional ones, which compiling does not need) and runs `npm run build`'s tsc there (its RUN lines are asserted by
 * dockerfile.test.ts). Throws with tsc's output when the sources the stage copies do not compile on their own.
 */
function buildBuildStage(): void {
  const build = readDockerfile().find((stage) => stage.name === 'build');
  if (build === undefined) throw new Error('the Dockerfile has no stage named build');
  for (const [sources, destination] of contextCopies(build)) {
    for (const source of sources) {
      // COPY a b ./ puts each into the folder; COPY dir ./dir puts the folder's contents there.
      const target = destination.endsWith('/') ? join(buildDir, destination, basename(source)) : join(buildDir, destination);
      cpSync(join(REPO_ROOT, source), target, { recursive: true });
    }
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
  const tsc = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: buildDir, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`the build stage's \`npm run build\` fails with only what the stage copies: ${tsc.stdout}${tsc.stderr}`);
}

/** Applies the runtime stage's COPY lines (asserted to be exactly these by dockerfile.test.ts) and installs prod deps. */
function buildRuntimeStage(): void {
  for (const file of ['package.json', 'package-lock.json']) cpSync(join(REPO_ROOT, file), join(app, file));
  cpSync(join(buildDir, 'dist'), join(app, 'dist'), { recursive: true });
  cpSync(join(REPO_ROOT, 'public'), join(app, 'public'), { recursive: true });
  const listed = spawnSync('npm', ['ls', '--omit=dev', '--omit=optional', '--all', '--parseable'], { cwd: REPO_ROOT, encoding: 'utf8' });
  const packages = listed.stdout.split('\n').map((p) => p.trim()).filter((p) => p.startsWith(join(REPO_ROOT, 'node_modules')));
  if (packages.length === 0) throw new Error(`npm ls listed no production packages: ${listed.stderr}`);
  for (const dir of packages) {
    const target = join(app, relative(REPO_ROOT, dir));
    mkdirSync(dirname(target), { recursive: true });
    // Only the package's own files: its nested node_modules come as their own entries of the list.
    cpSync(dir, target, { recursive: true, filter: (source) => !relative(dir, source).startsWith('node_modules') });
  }
}

beforeAll(async () => {
  buildBuildStage();
  buildRuntimeStage();
  [port, metricsPort] = [await freePort(), await freePort()];
  server = spawn(process.execPath, ['dist/functions/server.js'], {
    cwd: app, stdio: 'ignore',
    env: { PATH: process.env['PATH'], NODE_ENV: 'production', PORT: String(port), METRICS_PORT: String(metricsPort), HOST: '127.0.0.1', AUTH_MODE: 'none', SHUTDOWN_DRAIN_MS: '200' },
  });
}, 60_000);

afterAll(async () => {
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(app, { recursive: true, force: true });
  rmSync(buildDir, { recursive: true, force: true });
});

async function get(url: string): Promise<Response> {
  return waitFor(async () => {
    try {
      return await fetch(url);
    } catch (error) {
      if (server?.exitCode !== null) throw new Error(`${url} did not answer (server exit code ${server?.exitCode})`, { cause: error });
      return undefined;
    }
  }, `${url} to answer`, { timeoutMs: 10_000, everyMs: 100 });
}

test('holds no dev or optional dependency, and public/', () => {
  const installed = readdirSync(join(app, 'node_modules')).flatMap((name) => name.startsWith('@') ? readdirSync(join(app, 'node_modules', name)).map((n) => `${name}/${n}`) : [name]);
  const excluded = [...Object.keys(pkg.devDependencies), ...Object.keys(pkg.optionalDependencies ?? {})];
  expect(installed.filter((name) => excluded.includes(name))).toEqual([]);
  expect(installed).toEqual(expect.arrayContaining(['ioredis', 'prom-client', 'jose', '@aws-sdk/client-sqs']));
  expect(existsSync(join(app, 'public', 'index.html'))).toBe(true);
});

test('`node dist/functions/server.js` starts there and serves the page, the API and the metrics listener', async () => {
  expect((await get(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  const page = await get(`http://127.0.0.1:${port}/`);
  expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
  expect((await get(`http://127.0.0.1:${port}/sse-client.js`)).status).toBe(200);
  expect((await get(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
  const metrics = await get(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(await metrics.text()).toMatch(/^process_cpu_seconds_total \d/m);
}, 30_000);
