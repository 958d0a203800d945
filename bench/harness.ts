/**
 * The benchmark harness: a private sshd (test/fixtures/sshd.ts), a reference peer (a C program
 * on the same vendored libssh2) and the binding, run interleaved in rounds in the same run;
 * medians, client CPU and the ratio binding/C, written as JSON and Markdown to bench/results/.
 */
import { runProgram } from '../test/fixtures/run';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSshd, stopSshd, type SshdFixture } from '../test/fixtures/sshd';

/** Where and as whom the peers log in. */
export interface Target {
  host: string;
  port: number;
  user: string;
  privkey: string;
}

/** What one peer measured in one batch (one round). */
export interface Batch {
  /** Wall time of each timed op. */
  ms: number[];
  /** Client CPU over the timed ops (the whole process, all threads). */
  cpuUserMs: number;
  cpuSysMs: number;
  /** Negotiated methods (from a warm-up op), to check that both peers use the same ones. */
  methods: Record<string, string> | null;
}

export interface Peer {
  name: string;
  label: string;
  /** Runs `warmup` untimed ops, then `iterations` timed ones. */
  run(target: Target, iterations: number, warmup: number): Promise<Batch>;
}

export interface Workload {
  id: string;
  title: string;
  description: string;
  reference: Peer;
  candidate: Peer;
}

export interface Options {
  iterations: number;
  rounds: number;
  warmup: number;
}

interface PeerResult {
  name: string;
  label: string;
  ops: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  minMs: number;
  roundMediansMs: number[];
  cpuMsPerOp: number;
  cpuUserMsPerOp: number;
  cpuSysMsPerOp: number;
  methods: Record<string, string> | null;
}

/** Runs a program (bounded by `timeoutMs`) and resolves to its stdout; rejects on failure. */
export async function runChild(file: string, args: string[], timeoutMs: number): Promise<string> {
  const r = await runProgram(file, args, { timeoutMs });
  if (r.code !== 0) throw new Error(`${path.basename(file)} exited with ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

function summarize(peer: Peer, batches: Batch[]): PeerResult {
  const all = batches.flatMap((b) => b.ms).sort((a, b) => a - b);
  const user = batches.reduce((s, b) => s + b.cpuUserMs, 0) / all.length;
  const sys = batches.reduce((s, b) => s + b.cpuSysMs, 0) / all.length;
  return {
    name: peer.name,
    label: peer.label,
    ops: all.length,
    medianMs: quantile(all, 0.5),
    p10Ms: quantile(all, 0.1),
    p90Ms: quantile(all, 0.9),
    minMs: all[0] as number,
    roundMediansMs: batches.map((b) => median(b.ms)),
    cpuMsPerOp: user + sys,
    cpuUserMsPerOp: user,
    cpuSysMsPerOp: sys,
    methods: batches.find((b) => b.methods)?.methods ?? null,
  };
}

/** Interleaves the two peers in `rounds` rounds, alternating which one goes first. */
async function measure(w: Workload, target: Target, opts: Options): Promise<[PeerResult, PeerResult]> {
  const perRound = Math.ceil(opts.iterations / opts.rounds);
  const ref: Batch[] = [];
  const cand: Batch[] = [];
  for (let r = 0; r < opts.rounds; r++) {
    const order: [Peer, Batch[]][] = [[w.reference, ref], [w.candidate, cand]];
    if (r % 2 === 1) order.reverse();
    for (const [peer, batches] of order) {
      const batch = await peer.run(target, perRound, opts.warmup);
      batches.push(batch);
      process.stderr.write(`${w.id} round ${r + 1}/${opts.rounds} ${peer.name}: median ${median(batch.ms).toFixed(2)} ms\n`);
    }
  }
  const results: [PeerResult, PeerResult] = [summarize(w.reference, ref), summarize(w.candidate, cand)];
  const [a, b] = results.map((p) => JSON.stringify(p.methods));
  if (a !== b) throw new Error(`${w.id}: the peers negotiated different methods: ${a} vs ${b}`);
  return results;
}

function commandVersion(file: string, args: string[]): string {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

function environment(f: SshdFixture): Record<string, string | number> {
  return {
    node: process.version,
    nodeOpenssl: process.versions.openssl ?? '',
    systemOpenssl: commandVersion('openssl', ['version']),
    sshd: f.serverBanner,
    cpu: os.cpus()[0]?.model ?? '',
    cores: os.availableParallelism(),
    kernel: os.release(),
  };
}

function fmt(x: number, digits = 2): string {
  return x.toFixed(digits);
}

function markdown(w: Workload, opts: Options, results: [PeerResult, PeerResult], env: Record<string, string | number>, date: string): string {
  const [ref, cand] = results;
  const row = (p: PeerResult) =>
    `| ${p.label} | ${p.ops} | **${fmt(p.medianMs)}** | ${fmt(p.p10Ms)} | ${fmt(p.p90Ms)} | ${fmt(p.minMs)} | ` +
    `${fmt(p.cpuMsPerOp)} (${fmt(p.cpuUserMsPerOp)} + ${fmt(p.cpuSysMsPerOp)}) |`;
  const methods = Object.entries(ref.methods ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `# ${w.title} — ${date}`,
    '',
    `${w.description}. ${ref.ops} ops per peer in ${opts.rounds} interleaved rounds ` +
      `(${opts.warmup} untimed warm-up op per batch), private sshd on 127.0.0.1. Negotiated: ${methods}.`,
    '',
    '| peer | ops | median ms/op | p10 | p90 | min | client CPU ms/op (user + sys) |',
    '|---|---|---|---|---|---|---|',
    row(ref),
    row(cand),
    `| **ratio ${cand.name}/${ref.name}** | | **${fmt(cand.medianMs / ref.medianMs)}** | | | | ` +
      `**${fmt(cand.cpuMsPerOp / ref.cpuMsPerOp)}** |`,
    '',
    `Per-round medians (ms): ${ref.name} ${ref.roundMediansMs.map((x) => fmt(x)).join(', ')}; ` +
      `${cand.name} ${cand.roundMediansMs.map((x) => fmt(x)).join(', ')}.`,
    '',
    `Environment: ${Object.entries(env).map(([k, v]) => `${k} ${v}`).join('; ')}.`,
    '',
  ].join('\n');
}

/** Runs the selected workloads against a private sshd and writes bench/results/<id>-<date>.{json,md}. */
export async function main(workloads: Workload[], opts: Options): Promise<void> {
  const fixture = await startSshd();
  try {
    const target: Target = { host: fixture.host, port: fixture.port, user: fixture.user, privkey: fixture.keys.ed25519.private };
    const env = environment(fixture);
    const dir = path.join(__dirname, 'results');
    fs.mkdirSync(dir, { recursive: true });
    for (const w of workloads) {
      const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const results = await measure(w, target, opts);
      const md = markdown(w, opts, results, env, date);
      const base = path.join(dir, `${w.id}-${date.replace(/:/g, '')}`);
      fs.writeFileSync(`${base}.json`, JSON.stringify({ workload: w.id, title: w.title, date, options: opts, environment: env, results }, null, 2) + '\n');
      fs.writeFileSync(`${base}.md`, md);
      process.stdout.write(`${md}\nwritten: ${path.relative(process.cwd(), base)}.{json,md}\n`);
    }
  } finally {
    await stopSshd(fixture);
  }
}
