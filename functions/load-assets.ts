import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Asset } from '../lib/http/relay-app.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** Reads public/ once at start (it is small), so requests never touch the disk. `/` serves index.html. */
export async function loadAssets(dir: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const name of await readdir(dir)) {
    const type = TYPES[extname(name)];
    if (type === undefined) continue;
    assets.set(`/${name}`, { contentType: type, body: await readFile(join(dir, name)) });
  }
  const index = assets.get('/index.html');
  if (index !== undefined) assets.set('/', index);
  return assets;
}
