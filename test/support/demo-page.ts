import type { Page } from 'playwright-core';

/** What the demo page recorded through `window.relayClient`, read back by the test. */
export interface PageRecord {
  /** `lastEventId` of every `record` event, in the order the page received them. */
  ids: string[];
  /** Every connection state change with the page's Date.now(), ms. */
  states: [string, number][];
}

/**
 * Opens the demo page at `url`, waits for `window.relayClient` and its first `open`, then records every `record` id and
 * state change inside the page (a listener beside the page's own, so the cards' 20-item limit does not matter).
 */
export async function openDemoPage(page: Page, url: string, timeoutMs = 10_000): Promise<void> {
  await page.goto(url, { timeout: timeoutMs });
  await page.waitForFunction(() => (window as unknown as { relayClient?: unknown }).relayClient !== undefined, undefined, { timeout: timeoutMs });
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown> & { relayClient: RelayClientLike };
    const ids: string[] = [];
    const states: [string, number][] = [];
    w.__ids = ids;
    w.__states = states;
    w.relayClient.on('record', (_data: unknown, event: { lastEventId: string }) => ids.push(event.lastEventId));
    const shown = w.relayClient.onstate;
    w.relayClient.onstate = (state: string, detail: unknown) => (states.push([state, Date.now()]), shown(state, detail));
  });
  await page.waitForSelector('#state[data-state="open"]', { timeout: timeoutMs });
}

/** Reads what the page recorded so far. */
export async function readPageRecord(page: Page): Promise<PageRecord> {
  return page.evaluate(() => {
    const w = window as unknown as { __ids: string[]; __states: [string, number][] };
    return { ids: [...w.__ids], states: [...w.__states] };
  });
}

/** The part of public/sse-client.js RelayClient the recorder uses. */
interface RelayClientLike {
  on(type: string, handler: (data: unknown, event: { lastEventId: string }) => void): unknown;
  onstate: (state: string, detail: unknown) => void;
}
