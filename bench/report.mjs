// Turns a bench result into a Markdown table, a pass/fail list for the targets (bench/targets.mjs), and an SVG chart of
// latency against load (drawn by hand: log–log axes, one line per server).
/* global URL */
import { writeFileSync } from 'node:fs';
import { checkTargets, findPhase, notDelivered } from './targets.mjs';

const COLORS = { 'relay-memory': '#1f77b4', 'relay-redis': '#2ca02c', floor: '#d62728', 'relay-memory-gzip': '#9467bd' };
const kib = (bytes) => (bytes / 1024).toFixed(1);
const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');

const us = (value) => (value === null || value === undefined ? '–' : value.toFixed(2));

function loadTable(result) {
  const lines = [
    '| load | server | delivered frames/s | every frame | p50 ms | p99 ms | max ms | server CPU s | server CPU µs/frame | load CPU µs/frame | p99 ÷ floor | frames/s ÷ floor | µs/frame ÷ floor |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const phase of result.phases.filter((p) => p.rate > 0)) {
    const floor = findPhase(result, 'floor', phase.subscribers, phase.rate);
    for (const name of Object.keys(result.runs)) {
      const r = findPhase(result, name, phase.subscribers, phase.rate);
      if (r === undefined) continue;
      const vs = name === 'floor' || floor === undefined ? ['', '', '']
        : [ratio(r.p99, floor.p99), ratio(r.deliveredPerSecond, floor.deliveredPerSecond), ratio(r.serverCpuUsPerFrame ?? 0, floor.serverCpuUsPerFrame ?? 0)];
      lines.push(`| ${phase.subscribers.toLocaleString('en')} × ${phase.rate}/s | ${name} | ${r.deliveredPerSecond.toLocaleString('en')} | ${r.allDelivered ? 'all' : `**no**: ${notDelivered(r)}`} | ${r.p50} | ${r.p99} | ${r.max} | ${r.cpuSeconds} | ${us(r.serverCpuUsPerFrame)} | ${us(r.loadCpuUsPerFrame)} | ${vs.join(' | ')} |`);
    }
  }
  return lines;
}

function memoryTable(result) {
  if (!result.phases.some((p) => p.rate === 0)) return [];
  const lines = ['| idle subscribers | server | RSS per connection KiB | ÷ floor |', '|---:|---|---:|---:|'];
  for (const name of Object.keys(result.runs)) {
    for (const r of result.runs[name].filter((p) => p.rate === 0)) {
      const floor = findPhase(result, 'floor', r.subscribers, 0);
      lines.push(`| ${r.subscribers.toLocaleString('en')} | ${name} | ${kib(r.rssPerConnection)} | ${name === 'floor' || !floor ? '' : ratio(r.rssPerConnection, floor.rssPerConnection)} |`);
    }
  }
  return lines;
}

function chart(result) {
  const [w, h, left, top, right, bottom] = [720, 420, 70, 30, 170, 50];
  const x = (v) => left + ((Math.log10(v) - 3.5) / 3) * (w - left - right); // 10^3.5 .. 10^6.5 frames/s
  const y = (v) => top + (1 - (Math.log10(Math.max(v, 0.1)) + 1) / 5) * (h - top - bottom); // 0.1 .. 10^4 ms
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`, `<rect width="${w}" height="${h}" fill="white"/>`];
  for (const ms of [0.1, 1, 10, 100, 1000, 10000]) out.push(`<line x1="${left}" x2="${w - right}" y1="${y(ms)}" y2="${y(ms)}" stroke="#ddd"/><text x="${left - 6}" y="${y(ms) + 4}" text-anchor="end">${ms}</text>`);
  for (const fps of [1e4, 1e5, 1e6]) out.push(`<line x1="${x(fps)}" x2="${x(fps)}" y1="${top}" y2="${h - bottom}" stroke="#ddd"/><text x="${x(fps)}" y="${h - bottom + 16}" text-anchor="middle">${fps.toLocaleString('en')}</text>`);
  out.push(`<text x="${(left + w - right) / 2}" y="${h - 10}" text-anchor="middle">offered load, frames/s (subscribers × messages/s)</text>`);
  out.push(`<text transform="translate(16 ${(top + h - bottom) / 2}) rotate(-90)" text-anchor="middle">publish → receive latency, ms</text>`);
  let legend = top;
  for (const [name, runs] of Object.entries(result.runs)) {
    const points = runs.filter((r) => r.rate > 0).map((r) => [r.subscribers * r.rate, r]).sort((p, q) => p[0] - q[0]);
    const color = COLORS[name] ?? '#555';
    for (const [key, dash] of [['p99', ''], ['p50', ' stroke-dasharray="4 3"']]) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points.map(([load, r]) => `${x(load).toFixed(1)},${y(r[key]).toFixed(1)}`).join(' ')}"/>`);
      for (const [load, r] of points) out.push(`<circle cx="${x(load).toFixed(1)}" cy="${y(r[key]).toFixed(1)}" r="3" fill="${color}"><title>${name} ${r.subscribers}×${r.rate}/s ${key} ${r[key]} ms</title></circle>`);
    }
    out.push(`<text x="${w - right + 10}" y="${legend + 4}" fill="${color}">${name}</text>`);
    legend += 18;
  }
  out.push(`<text x="${w - right + 10}" y="${legend + 8}">solid p99, dashed p50</text>`, '</svg>');
  return out.join('\n') + '\n';
}

/** Writes `<base>.md` and `<base>.svg` into `dir`; returns the Markdown. */
export function writeReport(result, dir, base) {
  const { machine } = result;
  const checks = checkTargets(result).map(([name, what, ok, detail]) => `- ${ok ? 'PASS' : 'FAIL'} ${name}: ${what} (${detail})`);
  const markdown = [
    `Machine: ${machine.nproc} × ${machine.cpu}, Node ${machine.node}, ${machine.platform}; ${result.options.seconds} s per phase, ${result.options.clients} load process${result.options.clients === 1 ? '' : 'es'}; ${result.date}.`,
    result.pinning ? `Pinned: server on CPU ${result.pinning.server}, load (load processes, publisher, Redis) on CPU ${result.pinning.load}.` : 'Not pinned: server and load share every CPU.',
    result.loadAverage ? `Load average (1, 5, 15 min): ${result.loadAverage.before.join(', ')} at the start, ${result.loadAverage.after.join(', ')} at the end.` : '',
    '', ...loadTable(result), '', ...memoryTable(result), '', ...checks, ...result.notes.map((n) => `- note: ${n}`), '',
  ].join('\n');
  writeFileSync(new URL(`${base}.md`, dir), markdown);
  writeFileSync(new URL(`${base}.svg`, dir), chart(result));
  return markdown;
}
