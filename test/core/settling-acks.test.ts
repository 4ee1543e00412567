import { afterEach, beforeEach, expect, jest, test } from '@jest/globals';
import { SettlingAcks } from '../../lib/engine/settling-acks.js';
import type { Delivery } from '../../lib/source.js';

function delivery(log: string[], name: string): Delivery {
  return {
    topic: 't', id: name, handle: `t~${name}`, event: 'message', data: name,
    ack: async () => void log.push(`ack ${name}`),
    release: async () => void log.push(`release ${name}`),
    isHeld: async () => true,
  };
}

beforeEach(() => void jest.useFakeTimers());
afterEach(() => void jest.useRealTimers());

test('a message is acknowledged once the connection stayed open settleMs after its write, not before', async () => {
  const log: string[] = [];
  const acks = new SettlingAcks(() => true, () => undefined, 1_000);
  acks.add(delivery(log, 'a'));
  await jest.advanceTimersByTimeAsync(400);
  acks.add(delivery(log, 'b'));
  await jest.advanceTimersByTimeAsync(599);
  expect(log).toEqual([]);
  await jest.advanceTimersByTimeAsync(1);
  expect(log).toEqual(['ack a']);
  await jest.advanceTimersByTimeAsync(400);
  expect(log).toEqual(['ack a', 'ack b']);
  expect(jest.getTimerCount()).toBe(0);
});

test('the client left: what waits is released, and nothing is acknowledged afterwards', async () => {
  const log: string[] = [];
  const acks = new SettlingAcks(() => true, () => undefined, 1_000);
  acks.add(delivery(log, 'a'));
  await jest.advanceTimersByTimeAsync(500);
  await acks.finish(false);
  await jest.advanceTimersByTimeAsync(5_000);
  expect(log).toEqual(['release a']);
  acks.add(delivery(log, 'late'));
  await jest.advanceTimersByTimeAsync(0);
  expect(log).toEqual(['release a', 'release late']);
});

test('the server ended the stream: what waits is acknowledged at once', async () => {
  const log: string[] = [];
  const acks = new SettlingAcks(() => true, () => undefined, 1_000);
  acks.add(delivery(log, 'a'));
  await acks.finish(true);
  expect(log).toEqual(['ack a']);
  expect(jest.getTimerCount()).toBe(0);
});

test('a close the event loop has not reported yet: a due message is not acknowledged', async () => {
  const log: string[] = [];
  let open = true;
  const acks = new SettlingAcks(() => open, () => undefined, 1_000);
  acks.add(delivery(log, 'a'));
  open = false;
  await jest.advanceTimersByTimeAsync(2_000);
  expect(log).toEqual([]);
  await acks.finish(false);
  expect(log).toEqual(['release a']);
});

test('an acknowledgement the source refuses is reported, and finish still resolves', async () => {
  const errors: unknown[] = [];
  const acks = new SettlingAcks(() => true, (error) => errors.push(error), 10);
  acks.add({ ...delivery([], 'a'), ack: () => Promise.reject(new Error('redis away')) });
  await jest.advanceTimersByTimeAsync(10);
  await acks.finish(true);
  expect(errors).toHaveLength(1);
});
