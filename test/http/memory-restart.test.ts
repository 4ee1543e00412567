import { afterAll, expect, test } from '@jest/globals';
import { epochOf, publish } from '../support/relay-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { SseReader } from '../support/sse-reader.js';

// The memory source forgets everything with its process. Its positions used to be 1, 2, 3 … in every process, so a
// browser holding `jobs=30` from before a crash, reconnecting after the new process had published 40 messages, resumed
// at 31 of the new process and never got its 1 to 30, with nothing to tell it so. Positions now name their process: the
// old cursor reads as a gap, the client hears relay.reset and gets everything the new process holds.

const processes: ServerProcess[] = [];
const readers: SseReader[] = [];
afterAll(async () => {
  for (const reader of readers) reader.close();
  for (const server of processes) await server.kill('SIGKILL');
});

async function start(): Promise<ServerProcess> {
  const server = await startServerProcess({ SOURCE: 'memory', SHUTDOWN_DRAIN_MS: '100' });
  processes.push(server);
  return server;
}

/** Publishes `data` to `topic`, one message each, and returns the positions /publish answered. */
async function publishAll(server: ServerProcess, topic: string, data: readonly string[]): Promise<string[]> {
  const positions: string[] = [];
  for (const d of data) {
    const { status, json } = await publish(server.url, { topic, data: d });
    expect([d, status]).toEqual([d, 202]);
    positions.push(String(json['id']));
  }
  return positions;
}

const numbered = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`);

test('a cursor from before a crash gets relay.reset, then every message of the new process: none skipped', async () => {
  const first = await start();
  const before = await publishAll(first, 'jobs', numbered('old', 30));
  const reader = new SseReader(`${first.url}/events?topic=jobs&lastEventId=jobs%3D0`);
  readers.push(reader);
  await reader.until((r) => r.events.length === 30, 10_000);
  expect(reader.events.map((e) => e.data)).toEqual(numbered('old', 30));
  const lastEventId = reader.events.at(-1)?.id ?? '';
  reader.close();
  await first.kill('SIGKILL');

  // More messages in the new process than the old cursor's sequence number: 31 to 40 are what a resume at 30 gave.
  const second = await start();
  const after = await publishAll(second, 'jobs', numbered('new', 40));
  const back = new SseReader(`${second.url}/events?topic=jobs`, { 'last-event-id': lastEventId });
  readers.push(back);
  await back.until((r) => r.events.some((e) => e.data === 'new 40'), 10_000);
  const reset = JSON.stringify({ reason: 'cursor-expired', topics: ['jobs'] });
  expect(back.events.map((e) => [e.event ?? 'message', e.data])).toEqual([['relay.reset', reset], ...numbered('new', 40).map((d) => ['message', d])]);

  // The ids: the old process's start, then 30; the new process's own start, then 1 to 40.
  const oldEpoch = epochOf(before[0]);
  const newEpoch = epochOf(after[0]);
  expect(lastEventId).toBe(`jobs=${oldEpoch}-30`);
  expect(newEpoch).not.toBe(oldEpoch);
  expect(after).toEqual(Array.from({ length: 40 }, (_, i) => `${newEpoch}-${i + 1}`));
  expect(back.events.slice(1).map((e) => e.id)).toEqual(after.map((position) => `jobs=${position}`));
  // And it is live from there: the next message follows at once, with the next position, and no second reset.
  await publishAll(second, 'jobs', ['new 41']);
  await back.until((r) => r.events.length === 42);
  expect(back.events.at(-1)).toMatchObject({ id: `jobs=${newEpoch}-41`, data: 'new 41' });
  expect(back.events.filter((e) => e.event === 'relay.reset')).toHaveLength(1);
}, 60_000);
