import { expect, test } from '@jest/globals';
import { runScaleOut } from '../support/relay-scaleout.js';

// Issue 15, point 5: three relay processes behind the project's nginx site (one upstream, three servers) on one Redis.
// Every subscriber (a WHATWG EventSource through nginx) gets every message of its topic once and in order; SIGKILL of
// one relay moves exactly its subscribers to the other two, which resume from their cursors with no gap. The same run
// with 3,000 subscribers is `npm run bench -- --scaleout=3000` (figures in docs/benchmarks.md).

test('300 subscribers on three relays behind nginx: everyone gets everything in order, and a killed relay\'s subscribers resume on the others', async () => {
  const report = await runScaleOut({ subscribers: 300, topics: 10, ratePerSecond: 50, phaseMs: 2_000 });
  console.log(`Scale-out: ${JSON.stringify({ ...report, problems: report.problems.length })}`);
  expect(report.problems.slice(0, 10)).toEqual([]);
  // nginx spread the streams over all three relays, and the killed relay held some of them.
  expect(report.perRelay.every((n) => n > 0)).toBe(true);
  expect(report.perRelay.reduce((a, b) => a + b, 0)).toBe(300);
  // Exactly the killed relay's subscribers reconnected, once each, and the survivors now hold everyone.
  expect(report.moved).toBe(report.onKilled);
  expect(report.strays).toBe(0);
  expect(report.perRelayAfter.reduce((a, b) => a + b, 0)).toBe(300);
  expect(report.published).toBeGreaterThan(100);
  expect(report.delivered).toBe(300 * report.published / 10);
}, 120_000);
