import { describe, expect, it } from '@jest/globals';
import { judgeQuick, QUICK_THRESHOLDS } from '../../bench/quick-gate.mjs';

// Phase results as bench/phases.mjs writes them, only the fields the guard reads.
function load(subscribers: number, rate: number, usPerFrame: number, framesPerSecond: number, lost = 0) {
  return { subscribers, rate, serverCpuUsPerFrame: usPerFrame, deliveredPerSecond: framesPerSecond, lost, cuts: 0 };
}
const idle = (rssPerConnection: number) => ({ subscribers: 10_000, rate: 0, rssPerConnection });
const floor = [idle(11_000), load(1_000, 10, 17, 9_900), load(1_000, 100, 12, 30_000), load(5_000, 100, 14, 25_000)];
const relay = (usPerFrame = 1.2, lost = 0) => [idle(12_000), load(1_000, 10, 12, 9_900), load(1_000, 100, 3, 95_000), load(5_000, 100, usPerFrame, 200_000, lost)];

describe('the --quick regression guard', () => {
  it('passes a run whose ratios to the floor are within every threshold', () => {
    const verdict = judgeQuick({ runs: { 'relay-memory': relay(), floor } });
    expect(verdict.checks.filter((c) => !c.ok)).toEqual([]);
    expect(verdict.ok).toBe(true);
  });

  it('fails when the relay spends more server CPU per frame than the threshold allows, relative to the floor', () => {
    const tooCostly = 14 * QUICK_THRESHOLDS.cpuPerFrame5000x100Max * 1.1;
    const verdict = judgeQuick({ runs: { 'relay-memory': relay(tooCostly), floor } });
    expect(verdict.ok).toBe(false);
    expect(verdict.checks.filter((c) => !c.ok).map((c) => c.what)).toEqual(['relay-memory 5,000 × 100/s server CPU/frame ÷ floor']);
  });

  it('fails on a single lost frame whatever the ratios', () => {
    const verdict = judgeQuick({ runs: { 'relay-memory': relay(1.2, 1), floor } });
    expect(verdict.ok).toBe(false);
    expect(verdict.checks.filter((c) => !c.ok).map((c) => c.what)).toEqual(['relay-memory every frame delivered, every phase']);
  });

  it('fails when publishes went unanswered, though no counted frame was lost', () => {
    const runs = relay();
    runs[3] = { ...load(5_000, 100, 1.2, 200_000), allDelivered: false, publishErrors: 229, published: 571 } as ReturnType<typeof load>;
    const verdict = judgeQuick({ runs: { 'relay-memory': runs, floor } });
    expect(verdict.checks.filter((c) => !c.ok).map((c) => c.detail)).toEqual(['5000 × 100/s: 229 of 800 publishes unanswered']);
  });

  it('fails, saying why, when the floor or a phase was not measured', () => {
    expect(judgeQuick({ runs: { 'relay-memory': relay() } }).checks[0]?.detail).toMatch(/needs a relay and the floor/);
    const partial = judgeQuick({ runs: { 'relay-memory': relay().slice(0, 2), floor } });
    expect(partial.ok).toBe(false);
    expect(partial.checks.filter((c) => !c.ok).every((c) => c.detail.startsWith('not measured'))).toBe(true);
  });
});
