// The targets the issues set for `npm run bench`, judged on one result: PASS/FAIL lines, printed and written to the
// Markdown report, never asserted in jest (timing belongs here, not in tests).

const kib = (bytes) => (bytes / 1024).toFixed(1);
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');

export function findPhase(result, name, subscribers, rate) {
  return result.runs[name]?.find((r) => r.subscribers === subscribers && r.rate === rate);
}

/** Why a phase did not deliver every frame: lost frames, unanswered publishes, failed connects, cut streams. */
export function notDelivered(r) {
  return [[r.lost, 'frames lost'], [r.publishErrors, `of ${r.published + r.publishErrors} publishes unanswered`], [r.cuts, 'streams cut'],
    [r.subscribers - (r.connected ?? r.subscribers), `of ${r.subscribers} subscribers not open`]]
    .filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`).join(', ');
}

// Results written before `allDelivered` existed count by lost frames alone.
const delivered = (r) => r.allDelivered ?? r.lost === 0;
const delivery = (r) => (delivered(r) ? 'all delivered' : notDelivered(r) || `lost ${r.lost}`);

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
  if (b) checks.push([name, '1,000 × 100/s: all delivered, p99 < 150 ms', delivered(b) && b.p99 < 150, `${delivery(b)}, p99 ${b.p99} ms`]);
  if (c) checks.push([name, '5,000 × 100/s: all delivered, p99 < 600 ms', delivered(c) && c.p99 < 600, `${delivery(c)}, p99 ${c.p99} ms`]);
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
    const ok = delivered(pinned) && pinned.p99 < 300 && pinned.serverCpuUsPerFrame !== null && pinned.serverCpuUsPerFrame <= 1.2;
    checks.push([name, '#17 pinned 5,000 × 100/s: all delivered, p99 < 300 ms, ≤ 1.2 µs server CPU/frame', ok,
      `${delivery(pinned)}, p99 ${pinned.p99} ms, ${pinned.serverCpuUsPerFrame} µs/frame`]);
  }
  if (million && !result.pinning) {
    checks.push([name, '#17 10,000 × 100/s: all delivered, p99 < 500 ms', delivered(million) && million.p99 < 500,
      `${delivery(million)}, p99 ${million.p99} ms, ${million.deliveredPerSecond.toLocaleString('en')} frames/s, ${million.serverCpuUsPerFrame} µs/frame`]);
  }
  return checks;
}

/** [server, what, ok, detail] for every relay run of `result`. */
export function checkTargets(result) {
  return Object.keys(result.runs).filter((n) => n.startsWith('relay-')).flatMap((name) => [...issue8(result, name), ...issue17(result, name)]);
}
