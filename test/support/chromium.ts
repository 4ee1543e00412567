import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** The Debian Chromium the browser tests drive (playwright-core ships no browser, and none is downloaded). */
export const CHROMIUM_BIN = '/usr/bin/chromium';

// Headless, no sandbox (containers run as root), and nothing that talks to the network on its own.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

/** A headless Chromium with its own fresh profile. */
export interface RunningChromium {
  context: BrowserContext;
  /** Closes the browser and removes its profile folder. */
  close(): Promise<void>;
}

/**
 * Launches the Debian Chromium headless with a new profile in a temp folder; fails naming the install command.
 * `ignoreHTTPSErrors` accepts the self-signed certificate of a test's TLS listener.
 */
export async function launchChromium(options: { ignoreHTTPSErrors?: boolean } = {}): Promise<RunningChromium> {
  if (!existsSync(CHROMIUM_BIN)) throw new Error(`${CHROMIUM_BIN} not found: install it with \`apt-get install -y chromium\``);
  const profile = await mkdtemp(join(tmpdir(), 'sse-relay-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_BIN, headless: true, args: ARGS, viewport: { width: 1100, height: 760 }, timeout: 20_000,
      ignoreHTTPSErrors: options.ignoreHTTPSErrors === true,
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
