/**
 * The run's summary: every ratio of every workload, the target checks, failures, as
 * bench/results/summary-<date>.{json,md}, and an SVG bar chart of the ratios
 * (bench/results/chart.svg and chart-<date>.svg), drawn by hand.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fmt, type Check, type Outcome, type PeerResult, type Ratio } from './harness';

/** One bar: the binding's speed relative to a peer (> 1: the binding is faster). */
export interface Bar {
  workload: string;
  label: string;
  speed: number;
  /** A required target, as a speed (W1 ≤ 1.05× the ms → speed ≥ 1/1.05). */
  target?: number;
}

/** The headline ratio as a speed: throughput ratios as they are, ms ratios inverted. */
function speed(o: Outcome, r: Ratio): number {
  return o.throughput ? r.opsPerSec : 1 / r.medianMs;
}

export function bars(outcomes: Outcome[]): Bar[] {
  const out: Bar[] = [];
  for (const o of outcomes) {
    for (const r of o.ratios ?? []) {
      const check = o.checks.find((c) => c.required && c.what.startsWith(`${r.of}/${r.to} `));
      let target: number | undefined;
      if (check) {
        const v = Number(check.target.replace(/^[≤≥] /, ''));
        target = check.target.startsWith('≤') ? 1 / v : v;
      }
      out.push({ workload: o.id, label: `${o.id} ${r.of}/${r.to}`, speed: speed(o, r), target });
    }
  }
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A horizontal bar chart on a log2 axis centred on 1: bars to the right (green) where the
 * binding is faster, to the left (red) where it is slower; a dark tick marks a required target.
 */
export function chartSvg(all: Bar[], title: string): string {
  const rowH = 18;
  const labelW = 250;
  const plotW = 560;
  const top = 70;
  const gap = 8; // between workloads
  const groups = [...new Set(all.map((b) => b.workload))];
  const height = top + all.length * rowH + groups.length * gap + 40;
  const width = labelW + plotW + 70;
  const finite = all.map((b) => b.speed).filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.max(-6, Math.min(-2, Math.floor(Math.log2(Math.min(1, ...finite)))));
  const hi = Math.min(6, Math.max(2, Math.ceil(Math.log2(Math.max(1, ...finite)))));
  const x = (v: number) => labelW + ((Math.min(hi, Math.max(lo, Math.log2(v))) - lo) / (hi - lo)) * plotW;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
    '<text x="10" y="34" fill="#444">The binding\'s speed relative to each peer (log scale): right of 1 the binding is faster.</text>',
    '<text x="10" y="48" fill="#444">Throughput workloads: ratio of rates; ms workloads (W1, W3): peer ms / binding ms. ' +
      'Black tick: the required target.</text>',
  ];
  const plotBottom = height - 34;
  for (let e = lo; e <= hi; e++) {
    const v = 2 ** e;
    const xx = x(v).toFixed(1);
    parts.push(`<line x1="${xx}" y1="${top - 6}" x2="${xx}" y2="${plotBottom}" stroke="${e === 0 ? '#000' : '#ddd'}" stroke-width="${e === 0 ? 1.2 : 1}"/>`);
    parts.push(`<text x="${xx}" y="${plotBottom + 14}" text-anchor="middle" fill="#444">${v >= 1 ? v : `1/${2 ** -e}`}</text>`);
  }
  let y = top;
  let prev = '';
  for (const b of all) {
    if (b.workload !== prev && prev !== '') y += gap;
    prev = b.workload;
    const v = Number.isFinite(b.speed) && b.speed > 0 ? b.speed : 1;
    const x0 = x(1);
    const x1 = x(v);
    const colour = v >= 1 ? '#3a8a3a' : '#c0392b';
    parts.push(`<text x="${labelW - 8}" y="${y + rowH - 5}" text-anchor="end">${esc(b.label)}</text>`);
    parts.push(`<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 3}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" ` +
      `height="${rowH - 6}" fill="${colour}"/>`);
    // The value beside the bar's end; inside it (white) where it would run into the labels.
    const inside = v < 1 && x1 - 34 < labelW;
    const tx = v >= 1 ? x1 + 4 : inside ? x1 + 4 : x1 - 4;
    parts.push(`<text x="${tx.toFixed(1)}" y="${y + rowH - 5}" text-anchor="${v >= 1 || inside ? 'start' : 'end'}" ` +
      `fill="${inside ? '#fff' : '#222'}">${fmt(b.speed)}</text>`);
    if (b.target !== undefined) {
      const tt = x(b.target).toFixed(1);
      parts.push(`<line x1="${tt}" y1="${y + 1}" x2="${tt}" y2="${y + rowH - 1}" stroke="#000" stroke-width="2"/>`);
    }
    y += rowH;
  }
  parts.push('</svg>', '');
  return parts.join('\n');
}

function checksTable(checks: Check[]): string[] {
  return [
    '| workload | check | target | value | result |',
    '|---|---|---|---|---|',
    ...checks.map((c) => `| ${c.workload} | ${c.what} | ${c.target} | ${c.value} | ` +
      `${c.pass ? 'met' : '**missed**'}${c.required ? '' : ' (stretch)'} |`),
  ];
}

export function summaryMarkdown(outcomes: Outcome[], env: Record<string, string | number>, date: string, args: string): string {
  const lines: string[] = [
    `# Benchmark summary — ${date}`,
    '',
    `\`node bench/run.js${args ? ` ${args}` : ''}\`: ${outcomes.map((o) => `${o.id} ${o.seconds.toFixed(0)} s`).join(', ')}` +
      ` (${outcomes.reduce((s, o) => s + o.seconds, 0).toFixed(0)} s in all).`,
    '',
    '## Ratios (the binding to each peer)',
    '',
    '| workload | ratio | headline | same-round (headline) | client CPU | speed (> 1: binding faster) |',
    '|---|---|---|---|---|---|',
  ];
  for (const o of outcomes) {
    for (const r of o.ratios ?? []) {
      const head = o.throughput ? `${fmt(r.opsPerSec)} (${o.rateUnit ?? `${o.unit}s/s`})` : `${fmt(r.medianMs)} (ms/${o.unit})`;
      lines.push(`| ${o.id} | ${r.of}/${r.to} | ${head} | ${fmt(o.throughput ? r.pairedOpsPerSec : r.pairedMs)} | ${fmt(r.cpuPerOp)} | ${fmt(speed(o, r))} |`);
    }
  }
  lines.push('', '## Headline figures', '');
  for (const o of outcomes.filter((x) => x.results)) {
    const col = o.throughput ? (o.rateUnit ?? `${o.unit}s/s`) : `median ms/${o.unit}`;
    const figure = (p: PeerResult) => (o.throughput ? fmt(p.opsPerSec * (o.perOp ?? 1), 1) : fmt(p.medianMs));
    lines.push(`**${o.id}** (${col}): ${(o.results ?? []).map((p) => `${p.name} ${figure(p)}`).join(', ')}; ` +
      `client CPU ms/${o.unit}: ${(o.results ?? []).map((p) => `${p.name} ${fmt(p.cpuMsPerOp)}`).join(', ')}.`, '');
  }
  const checks = outcomes.flatMap((o) => o.checks);
  if (checks.length) lines.push('## Targets', '', ...checksTable(checks), '');
  const failed = outcomes.filter((o) => o.error);
  if (failed.length) lines.push('## Failures', '', ...failed.map((o) => `* ${o.id}: ${(o.error ?? '').split('\n')[0]}`), '');
  lines.push(`Environment: ${Object.entries(env).map(([k, v]) => `${k} ${v}`).join('; ')}.`, '');
  return lines.join('\n');
}

/** Writes summary-<date>.{json,md}, chart-<date>.svg and chart.svg (the latest) under `dir`. */
export function writeReport(outcomes: Outcome[], env: Record<string, string | number>, dir: string, date: string, args: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `summary-${date.replace(/:/g, '')}`);
  const md = summaryMarkdown(outcomes, env, date, args);
  fs.writeFileSync(`${base}.json`, JSON.stringify({ date, args, environment: env, outcomes }, null, 2) + '\n');
  fs.writeFileSync(`${base}.md`, md);
  const bs = bars(outcomes);
  if (bs.length > 0) {
    const svg = chartSvg(bs, `libssh2 binding vs peers — ${date}${args ? ` (${args})` : ''}`);
    fs.writeFileSync(path.join(dir, `chart-${date.replace(/:/g, '')}.svg`), svg);
    fs.writeFileSync(path.join(dir, 'chart.svg'), svg);
  }
  process.stdout.write(`${md}\nwritten: ${path.relative(process.cwd(), base)}.{json,md}, ${path.relative(process.cwd(), path.join(dir, 'chart.svg'))}\n`);
}
