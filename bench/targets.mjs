// The targets the issues set for `npm run bench`, judged on one result: PASS/FAIL lines, printed and written to the
// Markdown report, never asserted in jest (timing belongs here, not in tests).

const kib = (bytes) => (bytes / 1024).toFixed(1);
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');

export function findPhase(result, name, subscribers, rate) {
  return result.runs[name]?.find((r) => r.subscribers === subscribers && r.rate === rate);
}

/** Issue 8's targets for one relay run, against the floor of the same run. */
function issue8(result, name) {
  const checks = [];
  const floor10 = findPhase(result, 'floor', 1_000, 10);
  const floor5k = findPhase(result, 'floor', 5_000, 100);
  const a = findPhase(result, name, 1_000, 10);
  const b = findPhase(result, name, 1_000, 100);
  const c = findPhase(result, name, 5_000, 100);
  const d = findPhase(result, name, 10_000, 0);
  if (a && floor10) checks.push([name, '1,000 × 10/s: p99 ≤ 1.2× floor', a.p99 <= 1.2 * floor10.p99, `${a.p99} vs ${floor10.p99} ms`]);
  if (b) checks.push([name, '1,000 × 100/s: all delivered, p99 < 150 ms', b.lost === 0 && b.p99 < 150, `lost ${b.lost}, p99 ${b.p99} ms`]);
  if (c) checks.push([name, '5,000 × 100/s: all delivered, p99 < 600 ms', c.lost === 0 && c.p99 < 600, `lost ${c.lost}, p99 ${c.p99} ms`]);
  if (c && floor5k) checks.push([name, '5,000 × 100/s: ≥ 5× floor frames/s', c.deliveredPerSecond >= 5 * floor5k.deliveredPerSecond, ratio(c.deliveredPerSecond, floor5k.deliveredPerSecond)]);
  if (d) checks.push([name, '10,000 idle: ≤ 12 KB per connection', d.rssPerConnection <= 12_000, `${kib(d.rssPerConnection)} KiB`]);
  return checks;
}

/**
 * Issue 17 point 2. Pinned (server alone on one core): 5,000 × 100/s with every frame delivered, p99 < 300 ms and at
 * most 1.2 µs of server CPU per delivered frame. Unpinned, memory and Redis modes: 10,000 × 100/s with every frame
 * delivered and p99 < 500 ms.
 */
function issue17(result, name) {
  const checks = [];
  const pinned = findPhase(result, name, 5_000, 100);
  const million = findPhase(result, name, 10_000, 100);
  if (pinned && result.pinning) {
    const ok = pinned.lost === 0 && pinned.p99 < 300 && pinned.serverCpuUsPerFrame !== null && pinned.serverCpuUsPerFrame <= 1.2;
    checks.push([name, '#17 pinned 5,000 × 100/s: all delivered, p99 < 300 ms, ≤ 1.2 µs server CPU/frame', ok,
      `lost ${pinned.lost}, p99 ${pinned.p99} ms, ${pinned.serverCpuUsPerFrame} µs/frame`]);
  }
  if (million && !result.pinning) {
    checks.push([name, '#17 10,000 × 100/s: all delivered, p99 < 500 ms', million.lost === 0 && million.p99 < 500,
      `lost ${million.lost}, p99 ${million.p99} ms, ${million.deliveredPerSecond.toLocaleString('en')} frames/s, ${million.serverCpuUsPerFrame} µs/frame`]);
  }
  return checks;
}

/** [server, what, ok, detail] for every relay run of `result`. */
export function checkTargets(result) {
  return Object.keys(result.runs).filter((n) => n.startsWith('relay-')).flatMap((name) => [...issue8(result, name), ...issue17(result, name)]);
}
