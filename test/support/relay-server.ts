import { loadConfig, type Env } from '../../lib/config/index.js';
import { silentLogger } from '../../lib/logger.js';
import { startServer, type RunningServer } from '../../functions/server.js';

/** Starts the real container server in this process on an ephemeral loopback port. */
export async function startRelay(env: Env = {}): Promise<RunningServer & { url: string }> {
  // OVERLOAD_LAG_MS off unless a test asks: in this process the event loop is jest's too, and its pauses (GC, the test's
  // own work on a loaded CI host) are not the server's overload.
  const running = await startServer(loadConfig({ AUTH_MODE: 'none', PORT: '0', HOST: '127.0.0.1', OVERLOAD_LAG_MS: '0', ...env }), silentLogger);
  return { ...running, url: `http://127.0.0.1:${running.port}` };
}

/**
 * The epoch of a memory-source position (`epoch-seq`, the epoch being the server's start in ms), as `/publish` answers
 * it: tests through a real server take it from there and keep exact sequence numbers.
 */
export function epochOf(position: unknown): string {
  const match = /^(\d{13})-\d+$/.exec(String(position));
  if (match?.[1] === undefined) throw new Error(`${String(position)} is not a memory-source position (epoch-seq)`);
  return match[1];
}

/** POST /publish and return the parsed answer. */
export async function publish(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${url}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
