import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Delivery } from '../../lib/source.js';
import { AckRegistry, AckWindow } from '../../lib/engine/queue-ack.js';

// QUEUE_ACK=client in the core, on fake timers: time is the subject here (QUEUE_ACK_TIMEOUT_MS, the held-message
// poll), so no test waits for it. test/queue/client-ack.test.ts covers the same over HTTP with a real source.

const OPTIONS = { mode: 'client' as const, timeoutMs: 2_000, prefetch: 2, settleMs: 0 };

/** A delivery that records what the window did with it; `acknowledgedElsewhere` makes isHeld() answer false. */
function delivery(handle: string) {
  const seen: string[] = [];
  const state = { acknowledgedElsewhere: false };
  const value: Delivery = {
    topic: 't', id: handle, handle, event: 'message', data: handle,
    ack: async () => void seen.push('ack'),
    release: async () => void seen.push('release'),
    isHeld: async () => !state.acknowledgedElsewhere,
  };
  return { value, seen, state };
}

function setup() {
  const registry = new AckRegistry();
  const timeouts: string[] = [];
  let acks = 0;
  const window = new AckWindow(registry, OPTIONS, { onAck: () => void (acks += 1), onTimeout: (d) => void timeouts.push(d.handle) });
  return { registry, window, timeouts, acks: () => acks };
}

describe('AckWindow (QUEUE_ACK=client)', () => {
  beforeEach(() => void jest.useFakeTimers());
  afterEach(() => void jest.useRealTimers());

  it('times a message out after exactly QUEUE_ACK_TIMEOUT_MS, not before', async () => {
    const { window, timeouts } = setup();
    window.hold(delivery('t~1').value);
    await jest.advanceTimersByTimeAsync(OPTIONS.timeoutMs - 1);
    expect(timeouts).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(timeouts).toEqual(['t~1']);
  });

  it('an acknowledgement before the timeout removes the message for good and cancels its timer', async () => {
    const { registry, window, timeouts, acks } = setup();
    const one = delivery('t~1');
    window.hold(one.value);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(await registry.acknowledge('t~1')).toBe(true);
    await jest.advanceTimersByTimeAsync(OPTIONS.timeoutMs * 2);
    expect([one.seen, timeouts, acks(), registry.size]).toEqual([['ack'], [], 1, 0]);
    expect(await registry.acknowledge('t~1')).toBe(false);
  });

  it('a message acknowledged through another process is not timed out: at its deadline it just leaves the window', async () => {
    const { window, timeouts, acks } = setup();
    const one = delivery('t~1');
    window.hold(one.value);
    one.state.acknowledgedElsewhere = true;
    await jest.advanceTimersByTimeAsync(OPTIONS.timeoutMs);
    expect([timeouts, acks(), one.seen]).toEqual([[], 1, []]);
  });

  it('a full window waits for room; a poll every 500 ms finds messages acknowledged elsewhere', async () => {
    const { window } = setup();
    const [one, two] = [delivery('t~1'), delivery('t~2')];
    window.hold(one.value);
    window.hold(two.value);
    let roomy = false;
    void window.room().then(() => (roomy = true));
    await jest.advanceTimersByTimeAsync(1_000);
    expect(roomy).toBe(false);
    two.state.acknowledgedElsewhere = true;
    await jest.advanceTimersByTimeAsync(499);
    expect(roomy).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(roomy).toBe(true);
  });

  it('when the stream ends every unacknowledged message goes back, and no timer fires afterwards', async () => {
    const { window, timeouts } = setup();
    const [one, two] = [delivery('t~1'), delivery('t~2')];
    window.hold(one.value);
    window.hold(two.value);
    await window.releaseAll();
    await jest.advanceTimersByTimeAsync(OPTIONS.timeoutMs * 2);
    expect([one.seen, two.seen, timeouts, jest.getTimerCount()]).toEqual([['release'], ['release'], [], 0]);
  });
});
