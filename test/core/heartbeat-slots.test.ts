import { describe, expect, it } from '@jest/globals';
import { HeartbeatSlots } from '../../lib/engine/heartbeat-slots.js';

/** Runs `ticks` ticks of `tickMs` (each read `skewMs` off) and returns, per slot, the times it was due. */
function run(slots: HeartbeatSlots, ticks: number, tickMs: number, skewMs = 0): { dueAt: number[][]; rounds: number } {
  const dueAt: number[][] = Array.from({ length: slots.count }, () => []);
  let rounds = 0;
  for (let tick = 1; tick <= ticks; tick += 1) {
    const now = tick * tickMs + skewMs;
    rounds += slots.advance(now);
    for (let slot = 0; slot < slots.count; slot += 1) if (slots.isDue(slot)) dueAt[slot]!.push(now);
  }
  return { dueAt, rounds };
}

describe('HeartbeatSlots', () => {
  it('cuts the period into one slot per tick and deals streams to them in turn', () => {
    const slots = new HeartbeatSlots(15_000, 1_000, 0);
    expect(slots.count).toBe(15);
    const dealt = Array.from({ length: 45 }, () => slots.deal());
    for (let slot = 0; slot < 15; slot += 1) expect(dealt.filter((s) => s === slot)).toHaveLength(3);
  });

  it('makes each slot due once a period, one slot per tick, every slot within the first period', () => {
    const slots = new HeartbeatSlots(15_000, 1_000, 0);
    const { dueAt, rounds } = run(slots, 60, 1_000);
    expect(rounds).toBe(4);
    for (let slot = 0; slot < 15; slot += 1) {
      expect(dueAt[slot]![0]).toBe((slot + 1) * 1_000);
      expect(dueAt[slot]!.slice(1).map((at, i) => at - dueAt[slot]![i]!)).toEqual([15_000, 15_000, 15_000]);
    }
  });

  it('fires on the tick nearest the due time when the clock reads a little early, without drifting', () => {
    const slots = new HeartbeatSlots(5_000, 1_000, 0);
    const { dueAt, rounds } = run(slots, 55, 1_000, -2);
    expect(rounds).toBe(11);
    expect(dueAt[4]).toEqual(Array.from({ length: 11 }, (_, i) => (i + 1) * 5_000 - 2));
  });

  it('keeps one slot when the period is no longer than a tick: every stream every tick', () => {
    const slots = new HeartbeatSlots(500, 500, 0);
    expect(slots.count).toBe(1);
    expect(slots.deal()).toBe(0);
    expect(run(slots, 4, 500).dueAt[0]).toEqual([500, 1_000, 1_500, 2_000]);
  });

  it('after a stall longer than a period fires every slot once and starts again, instead of a burst of missed rounds', () => {
    const slots = new HeartbeatSlots(5_000, 1_000, 0);
    expect(slots.advance(1_000)).toBe(0);
    expect(slots.advance(60_000)).toBe(1);
    for (let slot = 0; slot < 5; slot += 1) expect(slots.isDue(slot)).toBe(true);
    expect(slots.advance(61_000)).toBe(0);
    expect([0, 1, 2, 3, 4].filter((slot) => slots.isDue(slot))).toEqual([0]);
  });

  it('with a period that is not a whole number of ticks, still gives every slot one heartbeat a period', () => {
    const slots = new HeartbeatSlots(2_500, 1_000, 0);
    const { dueAt } = run(slots, 25, 1_000);
    for (const times of dueAt) {
      expect(times.length).toBeGreaterThanOrEqual(9);
      for (let i = 1; i < times.length; i += 1) expect(Math.abs(times[i]! - times[i - 1]! - 2_500)).toBeLessThanOrEqual(1_000);
    }
  });
});
