/**
 * The benchmark harness: a private sshd (test/fixtures/sshd.ts), a reference peer (a C program
 * on the same vendored libssh2), the binding and other clients (the `ssh2` npm package), run
 * interleaved in rounds in the same run; medians, throughput, client CPU and ratios, written as
 * JSON and Markdown to bench/results/.
 */
import { runProgram } from '../test/fixtures/run';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSshd, stopSshd, type SshdFixture } from '../test/fixtures/sshd';

/**
 * Run-wide settings: `defaults` (`--defaults`): every peer with its own algorithm preferences
 * instead of the common ones (the C clients get BENCH_DEFAULTS=1).
 */
export const settings = { defaults: false };

/** Where and as whom the peers log in. */
export interface Target {
  host: string;
  port: number;
  user: string;
  privkey: string;
}

/** The negotiated methods, in libssh2's names (kex, hostkey, crypt_cs, crypt_sc). */
export type Methods = Record<string, string>;

/** What one peer measured in one batch (one round). */
export interface Batch {
  /** Wall time of each timed op. */
  ms: number[];
  /** Wall time of the whole timed loop (for the throughput). */
  wallMs: number;
  /** Client CPU over the timed ops (the whole process, all threads). */
  cpuUserMs: number;
  cpuSysMs: number;
  /** Negotiated methods, to check that all peers use the same ones. */
  methods: Methods | null;
}

export interface Peer {
  name: string;
  label: string;
  /** Runs `warmup` untimed ops, then `iterations` timed ones. */
  run(target: Target, iterations: number, warmup: number): Promise<Batch>;
}

/** Iterations per peer (split over the rounds) and rounds; `warmup` overrides run.js's default of 1. */
export interface Counts {
  iterations: number;
  rounds: number;
  warmup?: number;
}

export interface Workload {
  id: string;
  title: string;
  description: string;
  /** What one op is ("connection", "exec"): the unit of the throughput column. */
  unit: string;
  /** Whether the headline is the throughput (ops/s, median over rounds) or the median ms/op. */
  throughput: boolean;
  /** The first peer is the reference. */
  peers: Peer[];
  /** Ratios to report, as [numerator peer name, denominator peer name]. */
  ratios: [string, string][];
  defaults: Counts;
  quick: Counts;
  /**
   * Throughput in other units than ops/s (W4/W5: MB/s): `perOp` is how many units one op moves,
   * asked after `setup`.
   */
  rate?: { unit: string; perOp(): number };
  /** Prepares the workload's data before its first round (untimed); `teardown` removes it. */
  setup?(target: Target, opts: Options): Promise<void>;
  teardown?(): Promise<void>;
  /** The targets (ANCHORS.md, the issue) checked on this workload's ratios. */
  targets?: RatioTarget[];
}

/** A target on a ratio: `of`/`to` of the headline (ms: at most `max`; throughput: at least `min`). */
export interface RatioTarget {
  of: string;
  to: string;
  min?: number;
  max?: number;
  required: boolean;
}

/** A checked target, for the summary. */
export interface Check {
  workload: string;
  what: string;
  target: string;
  value: string;
  pass: boolean;
  required: boolean;
}

/** A workload that is not a race of peers (starvation, memory): it measures and reports itself. */
export interface Special {
  id: string;
  title: string;
  special: true;
  defaults: Counts;
  quick: Counts;
  run(target: Target, opts: Options): Promise<SpecialResult>;
}

export interface SpecialResult {
  markdown: string;
  json: unknown;
  checks: Check[];
}

export interface Options extends Counts {
  warmup: number;
  /** `--quick`: the workloads' small sizes. */
  quick: boolean;
}

export interface PeerResult {
  name: string;
  label: string;
  ops: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  minMs: number;
  roundMediansMs: number[];
  /** ops/s of each round (ops / wall time of its timed loop), and their median. */
  roundOpsPerSec: number[];
  opsPerSec: number;
  cpuMsPerOp: number;
  cpuUserMsPerOp: number;
  cpuSysMsPerOp: number;
  methods: Methods | null;
}

export interface Ratio {
  of: string;
  to: string;
  medianMs: number;
  opsPerSec: number;
  /** The median over rounds of the two peers' ops/s ratio in the same round (robust to a slow round). */
  pairedOpsPerSec: number;
  /** The same for the rounds' median ms. */
  pairedMs: number;
  cpuPerOp: number;
}

/** Runs a program (bounded by `timeoutMs`) and resolves to its stdout; rejects on failure. */
export async function runChild(file: string, args: string[], timeoutMs: number): Promise<string> {
  const r = await runProgram(file, args, { timeoutMs });
  if (r.code !== 0) throw new Error(`${path.basename(file)} exited with ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A C client of bench/c/build/ printing {ms, wall_ms, cpu_user_ms, cpu_sys_ms, methods}. */
export function cPeer(name: string, label: string, program: string, extraArgs: string[] = [], opTimeoutMs = 10_000): Peer {
  return {
    name,
    label,
    async run(t, iterations, warmup): Promise<Batch> {
      const exe = path.join(__dirname, 'c', 'build', program);
      const out = await runChild(exe, [t.host, String(t.port), t.user, t.privkey, String(iterations), String(warmup), ...extraArgs],
        30_000 + (iterations + warmup) * opTimeoutMs);
      const r = JSON.parse(out) as { ms: number[]; wall_ms: number; cpu_user_ms: number; cpu_sys_ms: number; methods: Methods | null };
      return { ms: r.ms, wallMs: r.wall_ms, cpuUserMs: r.cpu_user_ms, cpuSysMs: r.cpu_sys_ms, methods: r.methods };
    },
  };
}

/**
 * Times `op` `iterations` times after `warmup` untimed calls, in this process (wall time per op
 * with performance.now(), CPU of the whole process with process.cpuUsage()).
 */
export async function timeInProcess(iterations: number, warmup: number,
  op: (i: number, warm: boolean) => Promise<void>): Promise<Omit<Batch, 'methods'>> {
  for (let i = 0; i < warmup; i++) await op(i, true);
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await op(i, false);
    ms.push(performance.now() - t0);
  }
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return { ms, wallMs, cpuUserMs: cpu.user / 1e3, cpuSysMs: cpu.system / 1e3 };
}

/** Rejects with a timeout error after `ms` unless `p` settles first; `onTimeout` cleans up. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what} timed out after ${ms} ms`));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

function summarize(peer: Peer, batches: Batch[]): PeerResult {
  const all = batches.flatMap((b) => b.ms).sort((a, b) => a - b);
  const user = batches.reduce((s, b) => s + b.cpuUserMs, 0) / all.length;
  const sys = batches.reduce((s, b) => s + b.cpuSysMs, 0) / all.length;
  const roundOpsPerSec = batches.map((b) => (b.ms.length * 1000) / b.wallMs);
  return {
    name: peer.name,
    label: peer.label,
    ops: all.length,
    medianMs: quantile(all, 0.5),
    p10Ms: quantile(all, 0.1),
    p90Ms: quantile(all, 0.9),
    minMs: all[0],
    roundMediansMs: batches.map((b) => median(b.ms)),
    roundOpsPerSec,
    opsPerSec: median(roundOpsPerSec),
    cpuMsPerOp: user + sys,
    cpuUserMsPerOp: user,
    cpuSysMsPerOp: sys,
    methods: batches.find((b) => b.methods)?.methods ?? null,
  };
}

/** Runs the peers in `rounds` rounds, each round starting with the next peer (rotation). */
async function measure(w: Workload, target: Target, opts: Options): Promise<PeerResult[]> {
  const perRound = Math.ceil(opts.iterations / opts.rounds);
  const batches: Batch[][] = w.peers.map(() => []);
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < w.peers.length; k++) {
      const i = (r + k) % w.peers.length;
      const peer = w.peers[i];
      const batch = await peer.run(target, perRound, opts.warmup);
      batches[i].push(batch);
      const rate = (batch.ms.length * 1000) / batch.wallMs;
      const scaled = w.rate ? `, ${(rate * w.rate.perOp()).toFixed(1)} ${w.rate.unit}` : '';
      process.stderr.write(`${w.id} round ${r + 1}/${opts.rounds} ${peer.name}: median ${median(batch.ms).toFixed(2)} ms, ` +
        `${rate.toFixed(1)} ${w.unit}/s${scaled}, CPU ${((batch.cpuUserMs + batch.cpuSysMs) / batch.ms.length).toFixed(2)} ms/${w.unit}\n`);
    }
  }
  const results = w.peers.map((p, i) => summarize(p, batches[i]));
  // With --defaults every peer negotiates what it prefers (reported per peer).
  const ref = JSON.stringify(results[0]?.methods);
  for (const p of settings.defaults ? [] : results.slice(1)) {
    const m = JSON.stringify(p.methods);
    if (m !== ref) throw new Error(`${w.id}: ${p.name} negotiated other methods than ${results[0]?.name}: ${m} vs ${ref}`);
  }
  return results;
}

/** Checks `w`'s targets against its ratios (the headline: median ms or ops/s). */
export function checkTargets(w: Workload, rs: Ratio[]): Check[] {
  return (w.targets ?? []).map((t) => {
    const r = rs.find((x) => x.of === t.of && x.to === t.to);
    if (!r) throw new Error(`${w.id}: no ratio ${t.of}/${t.to} for a target`);
    const v = w.throughput ? r.opsPerSec : r.medianMs;
    const pass = (t.min === undefined || v >= t.min) && (t.max === undefined || v <= t.max);
    const what = `${t.of}/${t.to} ${w.throughput ? (w.rate?.unit ?? `${w.unit}s/s`) : `ms/${w.unit}`}`;
    return { workload: w.id, what, target: t.min !== undefined ? `≥ ${t.min}` : `≤ ${t.max}`, value: fmt(v, 3), pass, required: t.required };
  });
}

function ratios(w: Workload, results: PeerResult[]): Ratio[] {
  const byName = new Map(results.map((p) => [p.name, p]));
  return w.ratios.map(([of, to]) => {
    const a = byName.get(of);
    const b = byName.get(to);
    if (!a || !b) throw new Error(`${w.id}: no peer for the ratio ${of}/${to}`);
    const paired = median(a.roundOpsPerSec.map((x, i) => x / b.roundOpsPerSec[i]));
    const pairedMs = median(a.roundMediansMs.map((x, i) => x / b.roundMediansMs[i]));
    return {
      of, to, medianMs: a.medianMs / b.medianMs, opsPerSec: a.opsPerSec / b.opsPerSec, pairedOpsPerSec: paired, pairedMs,
      cpuPerOp: a.cpuMsPerOp / b.cpuMsPerOp,
    };
  });
}

function commandVersion(file: string, args: string[]): string {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

function environment(f: SshdFixture): Record<string, string | number> {
  return {
    node: process.version,
    nodeOpenssl: process.versions.openssl ?? '',
    systemOpenssl: commandVersion('openssl', ['version']),
    ssh2: packageVersion('ssh2'),
    sshd: f.serverBanner,
    cpu: os.cpus()[0]?.model ?? '',
    cores: os.availableParallelism(),
    kernel: os.release(),
  };
}

export function fmt(x: number, digits = 2): string {
  return x.toFixed(digits);
}

function markdown(w: Workload, opts: Options, results: PeerResult[], rs: Ratio[], env: Record<string, string | number>, date: string): string {
  const [ref] = results as [PeerResult];
  const bold = (s: string, b: boolean) => (b ? `**${s}**` : s);
  const perOp = w.rate?.perOp() ?? 1;
  const rateCol = w.rate ? `${w.rate.unit} (median of rounds)` : `${w.unit}s/s (median of rounds)`;
  const row = (p: PeerResult) =>
    `| ${p.label} | ${p.ops} | ${bold(fmt(p.medianMs), !w.throughput)} | ${fmt(p.p10Ms)} | ${fmt(p.p90Ms)} | ${fmt(p.minMs)} | ` +
    `${bold(fmt(p.opsPerSec * perOp, 1), w.throughput)} | ${fmt(p.cpuMsPerOp)} (${fmt(p.cpuUserMsPerOp)} + ${fmt(p.cpuSysMsPerOp)}) |`;
  const methods = settings.defaults ? 'each peer its defaults (below)'
    : Object.entries(ref.methods ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
  const perRound = Math.ceil(opts.iterations / opts.rounds);
  return [
    `# ${w.title} — ${date}`,
    '',
    `${w.description}. ${ref.ops} ${w.unit}s per peer in ${opts.rounds} interleaved round(s) of ${perRound} ` +
      `(${opts.warmup} untimed warm-up ${w.unit} per batch), private sshd on 127.0.0.1. Negotiated: ${methods}.`,
    '',
    `| peer | ${w.unit}s | median ms/${w.unit} | p10 | p90 | min | ${rateCol} | client CPU ms/${w.unit} (user + sys) |`,
    '|---|---|---|---|---|---|---|---|',
    ...results.map(row),
    '',
    `| ratio | median ms/${w.unit} (> 1: slower) | ${w.rate ? w.rate.unit : `${w.unit}s/s`} (< 1: slower) | ` +
      `same-round ratio of the headline (median of rounds) | client CPU/${w.unit} |`,
    '|---|---|---|---|---|',
    ...rs.map((r) => `| ${r.of}/${r.to} | ${bold(fmt(r.medianMs), !w.throughput)} | ${bold(fmt(r.opsPerSec), w.throughput)} | ` +
      `${fmt(w.throughput ? r.pairedOpsPerSec : r.pairedMs)} | ${fmt(r.cpuPerOp)} |`),
    '',
    ...(settings.defaults
      ? ['Negotiated (--defaults): ' + results.map((p) => `${p.name} ${Object.values(p.methods ?? {}).join(' ')}`).join('; ') + '.', '']
      : []),
    'Per-round medians (ms): ' + results.map((p) => `${p.name} ${p.roundMediansMs.map((x) => fmt(x)).join(', ')}`).join('; ') + '.',
    `Per-round ${w.rate ? w.rate.unit : `${w.unit}s/s`}: ` +
      results.map((p) => `${p.name} ${p.roundOpsPerSec.map((x) => fmt(x * perOp, 1)).join(', ')}`).join('; ') + '.',
    '',
    `Environment: ${Object.entries(env).map(([k, v]) => `${k} ${v}`).join('; ')}.`,
    '',
  ].join('\n');
}

/** What one workload of the run gave (or how it failed), for the summary. */
export interface Outcome {
  id: string;
  title: string;
  throughput?: boolean;
  unit?: string;
  rateUnit?: string;
  /** Units one op moves (MB per transfer), for rate workloads. */
  perOp?: number;
  results?: PeerResult[];
  ratios?: Ratio[];
  special?: SpecialResult;
  checks: Check[];
  error?: string;
  seconds: number;
}

function stamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

async function runWorkload(w: Workload, opts: Options, target: Target, env: Record<string, string | number>, dir: string): Promise<Outcome> {
  const date = stamp();
  const t0 = performance.now();
  let results: PeerResult[];
  await w.setup?.(target, opts);
  try {
    results = await measure(w, target, opts);
  } finally {
    await w.teardown?.();
  }
  const rs = ratios(w, results);
  const checks = checkTargets(w, rs);
  const md = markdown(w, opts, results, rs, env, date);
  const base = path.join(dir, `${w.id}-${date.replace(/:/g, '')}`);
  fs.writeFileSync(`${base}.json`,
    JSON.stringify({ workload: w.id, title: w.title, date, options: opts, settings, environment: env,
      rate: w.rate ? { unit: w.rate.unit, perOp: w.rate.perOp() } : undefined, results, ratios: rs, checks }, null, 2) + '\n');
  fs.writeFileSync(`${base}.md`, md);
  process.stdout.write(`${md}\nwritten: ${path.relative(process.cwd(), base)}.{json,md}\n\n`);
  return {
    id: w.id, title: w.title, throughput: w.throughput, unit: w.unit, rateUnit: w.rate?.unit, perOp: w.rate?.perOp(), results,
    ratios: rs, checks,
    seconds: (performance.now() - t0) / 1e3,
  };
}

async function runSpecial(w: Special, opts: Options, target: Target, env: Record<string, string | number>, dir: string): Promise<Outcome> {
  const date = stamp();
  const t0 = performance.now();
  const r = await w.run(target, opts);
  const md = `# ${w.title} — ${date}\n\n${r.markdown}\nEnvironment: ${Object.entries(env).map(([k, v]) => `${k} ${v}`).join('; ')}.\n`;
  const base = path.join(dir, `${w.id}-${date.replace(/:/g, '')}`);
  fs.writeFileSync(`${base}.json`, JSON.stringify({ workload: w.id, title: w.title, date, options: opts, environment: env,
    result: r.json, checks: r.checks }, null, 2) + '\n');
  fs.writeFileSync(`${base}.md`, md);
  process.stdout.write(`${md}\nwritten: ${path.relative(process.cwd(), base)}.{json,md}\n\n`);
  return { id: w.id, title: w.title, special: r, checks: r.checks, seconds: (performance.now() - t0) / 1e3 };
}

/**
 * Runs the selected workloads against a private sshd, writes bench/results/<id>-<date>.{json,md}
 * per workload, and the summary (every ratio, the target checks) and chart via `report`.
 * A workload that fails (a peer crashed, a checksum differed) is reported and the others still
 * run; resolves to false when any failed.
 */
export async function main(workloads: [Workload | Special, Options][],
  report: (outcomes: Outcome[], env: Record<string, string | number>, dir: string, date: string) => void): Promise<boolean> {
  const started = stamp();
  const fixture = await startSshd();
  const outcomes: Outcome[] = [];
  const dir = path.join(__dirname, 'results');
  let env: Record<string, string | number>;
  try {
    const target: Target = { host: fixture.host, port: fixture.port, user: fixture.user, privkey: fixture.keys.ed25519.private };
    env = environment(fixture);
    if (settings.defaults) env.algorithms = 'each peer its defaults (--defaults)';
    fs.mkdirSync(dir, { recursive: true });
    for (const [w, opts] of workloads) {
      const t0 = performance.now();
      try {
        outcomes.push('special' in w ? await runSpecial(w, opts, target, env, dir) : await runWorkload(w, opts, target, env, dir));
      } catch (e) {
        const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        process.stderr.write(`${w.id} FAILED: ${error}\n`);
        outcomes.push({ id: w.id, title: w.title, checks: [], error, seconds: (performance.now() - t0) / 1e3 });
      }
    }
  } finally {
    await stopSshd(fixture);
  }
  report(outcomes, env, dir, started);
  return outcomes.every((o) => !o.error);
}
