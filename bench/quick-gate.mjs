// `npm run bench -- --quick`: the regression guard a person runs before merging (tests hold no timing assertions).
// Each check is a ratio of the relay to the raw node:http floor measured in the same run, so a slow or busy machine
// moves both sides; a ratio past its threshold makes the run exit 1. docs/benchmarks.md explains the numbers.
import { findPhase, notDelivered } from './targets.mjs';

/**
 * The thresholds, each a ratio relay ÷ floor of the same run. Set from the engine of 2026-11-30 (main at 1263aaf) on the
 * shared 2-core machine: three quick runs and three full ones at load average 17–27, and the quiet-host run of
 * 2026-11-25 (its µs/frame derived from its CPU seconds and frame counts); docs/benchmarks.md, "Quick guard", has every
 * figure. Each sits about twice as far as the worst ratio seen,
 * so noise alone should not trip it, while losing what the engine is for would:
 * - cpuPerFrame5000x100Max: server CPU µs per delivered frame at 5,000 × 100/s. Seen 0.06–0.16 (0.09 on the quiet
 *   host): the relay writes each connection's frames of a turn at once, the floor once per frame. Per-frame writes
 *   would land near 1; a 3× costlier engine would trip it, a 1.5× one would not (compare µs/frame before and after
 *   in one sitting for that).
 * - cpuPerFrame1000x100Max: the same at 1,000 × 100/s. Seen 0.12–0.30 loaded, about 0.65 on the quiet host, where each
 *   frame leaves in its own turn and so costs about what the floor's does: the relay must never cost more per frame
 *   than the naive server.
 * - framesPerSecond5000x100Min: delivered frames/s at 5,000 × 100/s, where the floor saturates. Seen 7.1–16.9× loaded,
 *   5.5–6.6× quiet (the floor does better on a quiet host).
 * - idleMemoryMax: RSS per idle stream (10,000 streams). Seen 1.01–1.15×.
 * - and every frame delivered in every relay phase (no frame lost, no publish unanswered, no stream cut or missing),
 *   whatever the ratios: correctness, not speed. The p99 ratios are printed but not judged: between two runs of the
 *   same code on this host they swing by 4× or more.
 */
export const QUICK_THRESHOLDS = {
  cpuPerFrame5000x100Max: 0.3,
  cpuPerFrame1000x100Max: 1.0,
  framesPerSecond5000x100Min: 3,
  idleMemoryMax: 1.3,
};

function ratioCheck(what, relay, floor, threshold, atMost) {
  if (relay === undefined || floor === undefined || relay === null || floor === null || floor === 0) {
    return { what, ok: false, detail: 'not measured (a phase or the floor is missing)' };
  }
  const value = relay / floor;
  const ok = atMost ? value <= threshold : value >= threshold;
  return { what, ok, value: Math.round(value * 100) / 100, detail: `${value.toFixed(2)}× (threshold ${atMost ? '≤' : '≥'} ${threshold}×)` };
}

function relayChecks(result, name) {
  const t = QUICK_THRESHOLDS;
  const phase = (s, r, server = name) => findPhase(result, server, s, r);
  const checks = [];
  for (const [s, r, max] of [[5_000, 100, t.cpuPerFrame5000x100Max], [1_000, 100, t.cpuPerFrame1000x100Max]]) {
    checks.push(ratioCheck(`${name} ${s.toLocaleString('en')} × ${r}/s server CPU/frame ÷ floor`,
      phase(s, r)?.serverCpuUsPerFrame, phase(s, r, 'floor')?.serverCpuUsPerFrame, max, true));
  }
  checks.push(ratioCheck(`${name} 5,000 × 100/s frames/s ÷ floor`, phase(5_000, 100)?.deliveredPerSecond,
    phase(5_000, 100, 'floor')?.deliveredPerSecond, t.framesPerSecond5000x100Min, false));
  checks.push(ratioCheck(`${name} 10,000 idle RSS/stream ÷ floor`, phase(10_000, 0)?.rssPerConnection,
    phase(10_000, 0, 'floor')?.rssPerConnection, t.idleMemoryMax, true));
  const short = (result.runs[name] ?? []).filter((r) => r.rate > 0 && !(r.allDelivered ?? r.lost === 0));
  checks.push({ what: `${name} every frame delivered, every phase`, ok: short.length === 0, value: short.length,
    detail: short.length === 0 ? 'yes' : short.map((r) => `${r.subscribers} × ${r.rate}/s: ${notDelivered(r)}`).join('; ') });
  return checks;
}

/** { ok, checks: [{ what, ok, value, detail }] } for every relay run of a quick result. */
export function judgeQuick(result) {
  const relays = Object.keys(result.runs).filter((n) => n.startsWith('relay-'));
  if (relays.length === 0 || result.runs.floor === undefined) {
    return { ok: false, checks: [{ what: 'relay and floor runs', ok: false, detail: `--quick needs a relay and the floor; ran: ${Object.keys(result.runs).join(', ') || 'nothing'}` }] };
  }
  const checks = relays.flatMap((name) => relayChecks(result, name));
  return { ok: checks.every((c) => c.ok), thresholds: QUICK_THRESHOLDS, checks };
}

/** The verdict as lines for the terminal. */
export function formatQuick(verdict) {
  const lines = verdict.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.what}: ${c.detail}`);
  lines.push(verdict.ok ? 'quick guard: every ratio within its threshold' : 'quick guard: FAILED (exit 1); see docs/benchmarks.md "Quick guard" before merging');
  return lines.join('\n');
}
