import type { Page } from 'playwright-core';

/** What a page running public/sse-client.js recorded, read back by the test. */
export interface ClientRecord {
  /** [lastEventId, data] of every event, in the order the page got them. */
  events: [string, string][];
  /** Every state change: [state, HTTP status or 0, error code or '', page Date.now()]. */
  states: [string, number, string, number][];
  /** `forbidden` events the page heard. */
  forbidden: number;
}

/** How the test's token provider is asked from the page: the reason the client gave. */
export type MintToken = (reason: string) => Promise<string>;

/**
 * Opens `pageUrl` (any page of the origin the test wants the client to run on), imports `/sse-client.js` there and
 * starts a RelayClient on `eventsUrl` whose token provider is `mint` (run in the test, through Playwright), recording
 * every event and state change in the page. The client is `window.client`.
 */
export async function startClientPage(page: Page, pageUrl: string, eventsUrl: string, options: { topics: string[]; tokenTransport: string; baseDelayMs?: number; maxDelayMs?: number }, mint: MintToken): Promise<void> {
  await page.exposeFunction('mintToken', mint);
  await page.goto(pageUrl);
  await page.evaluate(async ({ eventsUrl, options }) => {
    const { RelayClient } = await import('/sse-client.js' as string);
    const w = window as unknown as Record<string, unknown> & { mintToken: MintToken };
    const record = { events: [] as [string, string][], states: [] as [string, number, string, number][], forbidden: 0 };
    w.record = record;
    const client = new RelayClient(eventsUrl, { ...options, json: false, token: ({ reason }: { reason: string }) => w.mintToken(reason) });
    client.on('*', (data: string, event: MessageEvent) => record.events.push([event.lastEventId, data]));
    client.addEventListener('statechange', (e: CustomEvent) => record.states.push([e.detail.state, e.detail.status ?? 0, e.detail.code ?? '', Date.now()]));
    client.addEventListener('forbidden', () => (record.forbidden += 1));
    w.client = client;
  }, { eventsUrl, options });
}

/** Reads what the page recorded so far. */
export async function readClientRecord(page: Page): Promise<ClientRecord> {
  return page.evaluate(() => structuredClone((window as unknown as { record: ClientRecord }).record));
}

/** Waits until the page holds `n` events; fails with what it has and its states. */
export async function clientReaches(page: Page, n: number, timeoutMs: number): Promise<void> {
  await page.waitForFunction((count) => (window as unknown as { record: ClientRecord }).record.events.length >= count, n, { timeout: timeoutMs, polling: 100 })
    .catch(async (error: unknown) => {
      const { events, states } = await readClientRecord(page);
      throw new Error(`the page has ${events.length} of ${n} events; states ${JSON.stringify(states)}`, { cause: error });
    });
}

/** Waits until the page's client is in `state`. */
export async function clientState(page: Page, state: string, timeoutMs: number): Promise<void> {
  await page.waitForFunction((s) => (window as unknown as { client: { state: string } }).client.state === s, state, { timeout: timeoutMs, polling: 50 });
}
