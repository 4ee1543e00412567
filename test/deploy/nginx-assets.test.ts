import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAssets } from '../../functions/load-assets.js';
import { REPO_ROOT } from './kustomize-render.js';

// The shipped nginx site is an allow-list: a static file the server serves but nginx does not route would 404 behind it
// (the demo page's imports above all), so the list is checked against what the server actually serves.
test('the nginx site routes every static file the server serves, and nothing that it does not', async () => {
  const site = readFileSync(join(REPO_ROOT, 'nginx/sse-relay.conf'), 'utf8');
  const pattern = /location ~ (\^\/\([^)]*\)\$) \{/.exec(site)?.[1];
  expect(pattern).toBeDefined();
  const routed = new RegExp(pattern as string);
  const assets = [...(await loadAssets(join(REPO_ROOT, 'public'))).keys()].filter((path) => path !== '/');
  expect(assets.filter((path) => !routed.test(path))).toEqual([]);
  expect(routed.test('/metrics')).toBe(false);
});
