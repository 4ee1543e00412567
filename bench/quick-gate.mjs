// `npm run bench -- --quick`: the regression guard a person runs before merging (tests hold no timing assertions).
// Each check is a ratio of the relay to the raw node:http floor measured in the same run, so a slow or busy machine
// moves both sides; a ratio past its threshold makes the run exit 1. docs/benchmarks.md explains the numbers.
import { findPhase, notDelivered } from './targets.mjs';

/**
 * The thresholds. Each sits well outside what the engine of 2026-11-30 measured on the shared 2-core machine (the
 * spread of several quick runs, docs/benchmarks.md "Quick guard") and well inside what a real regression costs, so
 * noise alone should not trip it while losing the fan-out engine's batching would:
 * - serverCpuPerFrame: the relay's server CPU µs per delivered frame ÷ the floor's, at 5,000 × 100/s and 1,000 × 100/s.
 *   CPU time is the figure load on the host disturbs least. Measured 0.xx–0.xx; the floor's one `res.write` per
 *   connection per message is what the relay must beat, so at or above MAX it has lost its reason to exist.
 * - framesPerSecond: delivered frames/s relay ÷ floor at 5,000 × 100/s: the floor saturates there. Measured x–x×.
 * - idleMemory: RSS per idle stream relay ÷ floor (10,000 streams). Measured 1.0x–1.1x×.
 * - every frame delivered in every relay phase (no frame lost, no publish unanswered, no stream cut or refused),
 *   whatever the ratios: correctness, not speed.
 */
export const QUICK_THRESHOLDS = {
  serverCpuPerFrameMax: 0.8,
  framesPerSecondMin: 2.5,
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
  for (const [s, r] of [[5_000, 100], [1_000, 100]]) {
    checks.push(ratioCheck(`${name} ${s.toLocaleString('en')} × ${r}/s server CPU/frame ÷ floor`,
      phase(s, r)?.serverCpuUsPerFrame, phase(s, r, 'floor')?.serverCpuUsPerFrame, t.serverCpuPerFrameMax, true));
  }
  checks.push(ratioCheck(`${name} 5,000 × 100/s frames/s ÷ floor`, phase(5_000, 100)?.deliveredPerSecond,
    phase(5_000, 100, 'floor')?.deliveredPerSecond, t.framesPerSecondMin, false));
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
