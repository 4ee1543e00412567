import { afterAll, expect, test } from '@jest/globals';
import { startServerProcess } from '../support/server-process.js';
import { waitFor } from '../support/wait-for.js';

// An EventSource refused for a passing reason (overloaded, shutting_down) gets a 200 that only says when to come back.
// The access log called each of those "stream opened", like a real stream: in an outside replay of a drain, the draining
// relay logged 13,755 "stream opened" lines for reconnects it had turned away, and an operator counting streams in the
// logs (or looking for the drain's refusals) was told the opposite of what happened.

let stop: (() => Promise<void>) | undefined;
afterAll(async () => stop?.());

interface LogLine { msg?: string; status?: number; code?: string; path?: string }

test('a stream refused with a reconnect hint is logged as refused, with its code, not as opened', async () => {
  const server = await startServerProcess({ ADMISSION_RATE_PER_S: '1', MAX_CONNECTIONS_PER_CLIENT: '100' });
  stop = () => server.kill('SIGKILL');
  const aborts = [new AbortController(), new AbortController(), new AbortController()];
  const answers: string[] = [];
  for (const abort of aborts) {
    const response = await fetch(`${server.url}/events?topic=log`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    answers.push(new TextDecoder().decode((await reader.read()).value));
  }
  aborts.forEach((abort) => abort.abort());
  const refused = answers.filter((text) => text.startsWith(': overloaded')).length;
  expect(refused).toBeGreaterThan(0);
  const eventLines = (): LogLine[] => server.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine).filter((l) => l.path === '/events');
  // The child's log reaches us through a pipe: wait until every request's line has arrived.
  const lines = await waitFor(() => (eventLines().length >= answers.length ? eventLines() : undefined), 'a log line for every /events request');
  expect(lines.filter((l) => l.msg === 'stream opened')).toHaveLength(answers.length - refused);
  expect(lines.filter((l) => l.msg === 'stream refused: told to come back' && l.code === 'overloaded')).toHaveLength(refused);
});
