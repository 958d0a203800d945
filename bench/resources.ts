/**
 * Resource workloads of the binding (the targets; no peers):
 *
 * * STARVE — threadpool starvation: 100 sessions, each with a read pending on a channel whose
 *   command prints nothing (`sleep 180`), while the main thread times 200 sequential
 *   `fs.promises.readFile` calls (which need libuv's threadpool), against the same calls without
 *   sessions. A parked read must hold no pool thread. Repeated (median of 3); target: p99 with
 *   the sessions ≤ 2 × the idle p99 + 5 ms.
 * * MEM — memory: RSS during a 1 GiB fastGet and a 1 GiB read through a channel stream, and over
 *   10,000 exec round trips (sampled every 500, after a forced GC), in a fresh Node process
 *   (bench/mem-child.js) so that nothing else in the harness moves its RSS. Targets: < 64 MiB
 *   growth per 1 GiB transfer; no upward slope of the least-squares fit over the round trips.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { fastGet } from '../lib/transfer';
import type { Channel, Session } from '../lib';
import { runProgram } from '../test/fixtures/run';
import { fmt, median, quantile, withTimeout, type Check, type Options, type Special, type SpecialResult, type Target } from './harness';
import { bindingConnect, bindingDisconnect, bindingExec } from './clients';
import { dataParent, sha256File, writeRandomFile } from './sftp';

// ---- STARVE ----------------------------------------------------------------------------------

const SESSIONS = 100;
const CONNECT_CONCURRENCY = 10;
const READ_FILE_SIZE = 4096;
const READ_FILE_TIMEOUT_MS = 10_000;

interface Parked {
  session: Session;
  channel: Channel;
  settled: boolean;
}

/**
 * How long a parked read may wait: longer than connecting all the sessions can take on a loaded
 * machine (9.7 s once), plus the measurement. The reads end when the sessions are released.
 */
const PARKED_MS = 180_000;

/** Connects `n` sessions (a few at a time), each with a silent `sleep` running and a read pending. */
async function park(t: Target, n: number): Promise<Parked[]> {
  const parked: Parked[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const { session } = await bindingConnect(t);
      session.setTimeout(PARKED_MS); // bindingConnect's 10 s per call would end the first reads early
      const p: Parked = { session, channel: await session.openSession(), settled: false };
      parked.push(p);
      await p.channel.exec(`sleep ${PARKED_MS / 1000}`);
      p.channel.read(65536).then(() => (p.settled = true), () => (p.settled = true));
    }
  };
  try {
    await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  } catch (e) {
    await release(parked);
    throw e;
  }
  return parked;
}

/** Disconnects and frees every parked session (their pending reads reject). */
async function release(parked: Parked[]): Promise<void> {
  await Promise.all(parked.map(async (p) => {
    try {
      await bindingDisconnect(p.session);
    } catch {
      // the session is freed in bindingDisconnect's finally
    }
  }));
}

/** `n` sequential readFile calls of `file`; per-call ms. */
async function readFiles(file: string, n: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const b = await withTimeout(fsp.readFile(file), READ_FILE_TIMEOUT_MS, 'fs.promises.readFile (threadpool starved?)');
    ms.push(performance.now() - t0);
    if (b.length !== READ_FILE_SIZE) throw new Error(`readFile: ${b.length} bytes`);
  }
  return ms;
}

function stats(ms: number[]): { p50: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] };
}

async function runStarve(t: Target, opts: Options): Promise<SpecialResult> {
  const reps = opts.rounds;
  const reads = opts.iterations;
  const dir = fs.mkdtempSync(path.join(dataParent(1 << 20), 'libssh2-bench-starve-'));
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, crypto.randomBytes(READ_FILE_SIZE));
  const runs: { idle: ReturnType<typeof stats>; parked: ReturnType<typeof stats>; connectMs: number }[] = [];
  try {
    for (let r = 0; r < reps; r++) {
      await readFiles(file, 20); // warm the pool threads and the file cache
      const idle = stats(await readFiles(file, reads));
      const c0 = performance.now();
      const parked = await park(t, SESSIONS);
      const connectMs = performance.now() - c0;
      let withSessions: ReturnType<typeof stats>;
      try {
        await new Promise((res) => setTimeout(res, 200)); // every read parked on the socket
        withSessions = stats(await readFiles(file, reads));
        const settled = parked.filter((p) => p.settled).length;
        if (settled > 0) throw new Error(`STARVE: ${settled} of the pending reads settled during the measurement`);
      } finally {
        await release(parked);
      }
      runs.push({ idle, parked: withSessions, connectMs });
      process.stderr.write(`STARVE ${r + 1}/${reps}: idle p50 ${fmt(idle.p50, 3)} p99 ${fmt(idle.p99, 3)} ms; ` +
        `${SESSIONS} parked reads p50 ${fmt(withSessions.p50, 3)} p99 ${fmt(withSessions.p99, 3)} ms (connect ${fmt(connectMs, 0)} ms)\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const idleP99 = median(runs.map((x) => x.idle.p99));
  const parkedP99 = median(runs.map((x) => x.parked.p99));
  const idleP50 = median(runs.map((x) => x.idle.p50));
  const parkedP50 = median(runs.map((x) => x.parked.p50));
  const limit = 2 * idleP99 + 5;
  const checks: Check[] = [{
    workload: 'STARVE', what: `readFile p99 with ${SESSIONS} parked reads (ms)`, target: `≤ 2 × idle p99 + 5 = ${fmt(limit, 3)}`,
    value: fmt(parkedP99, 3), pass: parkedP99 <= limit, required: true,
  }];
  const markdown = [
    `${SESSIONS} sessions of this binding, each with a channel running \`sleep ${PARKED_MS / 1000}\` and a \`read()\` pending on it, while the ` +
      `main thread times ${reads} sequential \`fs.promises.readFile\` calls of a ${READ_FILE_SIZE}-byte file (libuv threadpool, ` +
      `UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}), against the same calls without sessions; ` +
      `${reps} repetition(s), medians of them.`,
    '',
    '| run | idle p50 ms | idle p99 ms | parked p50 ms | parked p99 ms | connect ms |',
    '|---|---|---|---|---|---|',
    ...runs.map((x, i) => `| ${i + 1} | ${fmt(x.idle.p50, 3)} | ${fmt(x.idle.p99, 3)} | ${fmt(x.parked.p50, 3)} | ` +
      `${fmt(x.parked.p99, 3)} | ${fmt(x.connectMs, 0)} |`),
    `| **median** | ${fmt(idleP50, 3)} | **${fmt(idleP99, 3)}** | ${fmt(parkedP50, 3)} | **${fmt(parkedP99, 3)}** | |`,
    '',
    `p99 ratio parked/idle: **${fmt(parkedP99 / idleP99)}**; target p99 ≤ 2 × ${fmt(idleP99, 3)} + 5 = ${fmt(limit, 3)} ms: ` +
      `**${checks[0]?.pass ? 'met' : 'missed'}**.`,
    '',
  ].join('\n');
  return { markdown, json: { sessions: SESSIONS, reads, runs, idleP50, idleP99, parkedP50, parkedP99, ratioP99: parkedP99 / idleP99 }, checks };
}

export const starve: Special = {
  id: 'STARVE',
  title: 'Threadpool starvation: 100 parked reads vs fs.promises.readFile',
  special: true,
  defaults: { iterations: 200, rounds: 3 },
  quick: { iterations: 200, rounds: 1 },
  run: runStarve,
};

// ---- MEM ---------------------------------------------------------------------------------------

const MEM_SIZE = 1 << 30;
const MEM_SIZE_QUICK = 32 << 20;
const MEM_EXECS = 10_000;
const MEM_EXECS_QUICK = 1000;
const MEM_SAMPLE_MS = 50;
const MIB = 1 << 20;

/** RSS samples of one transfer (MiB), taken every MEM_SAMPLE_MS. */
export interface TransferMemory {
  what: string;
  bytes: number;
  seconds: number;
  baselineMiB: number;
  peakMiB: number;
  growthMiB: number;
  samples: number;
}

export interface ExecMemory {
  execs: number;
  every: number;
  /** RSS (after a forced GC) at 0, every, 2×every, ... execs. */
  rssMiB: number[];
  heapUsedMiB: number[];
  /** process.memoryUsage().external (Buffers' memory among it). */
  externalMiB: number[];
  growthMiB: number;
  /** Least-squares slope of RSS over all samples, and over the second half (after warm-up), in KiB per 1000 execs. */
  slopeKiBPer1000: number;
  slopeSecondHalfKiBPer1000: number;
  heapSlopeSecondHalfKiBPer1000: number;
  externalSlopeSecondHalfKiBPer1000: number;
  seconds: number;
}

function rssMiB(): number {
  return process.memoryUsage.rss() / MIB;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Least-squares slope of ys over xs. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i]) - mx) * ((ys[i]) - my);
    den += ((xs[i]) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function sampled(what: string, bytes: number, body: () => Promise<void>): Promise<TransferMemory> {
  gc();
  const baseline = rssMiB();
  let peak = baseline;
  let samples = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB());
    samples++;
  }, MEM_SAMPLE_MS);
  const t0 = performance.now();
  try {
    await body();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, rssMiB());
  return { what, bytes, seconds: (performance.now() - t0) / 1e3, baselineMiB: baseline, peakMiB: peak, growthMiB: peak - baseline, samples };
}

/** Reads `cat file` through `channel.stream()` into a sha256 (`for await`); resolves to the digest and byte count. */
async function streamHash(session: Session, file: string): Promise<{ sha: string; n: number }> {
  const ch = await session.openSession();
  await ch.exec(`cat '${file}'`);
  const s = ch.stream();
  s.stderr.resume();
  const h = crypto.createHash('sha256');
  let n = 0;
  for await (const chunk of s as AsyncIterable<Buffer>) {
    h.update(chunk);
    n += chunk.length;
  }
  // The iterator destroyed the stream (closing and freeing the channel); the count and the
  // digest are the check.
  return { sha: h.digest('hex'), n };
}

/** The child process's part (bench/mem-child.js): prints the JSON result on stdout. */
export async function memChild(t: Target, file: string, size: number, sha: string, execs: number, every: number, outDir: string):
  Promise<{ transfers: TransferMemory[]; execs: ExecMemory }> {
  const transfers: TransferMemory[] = [];
  const { session } = await bindingConnect(t);
  try {
    // The round trips first, on a fresh heap: after a 1 GiB transfer the allocator holds freed
    // memory that a small leak would fill before RSS grew.
    await bindingExec(session); // the first channel after auth is special (sshd's Nagle)
    const rss: number[] = [];
    const heap: number[] = [];
    const external: number[] = [];
    const sample = () => {
      gc();
      const m = process.memoryUsage();
      rss.push(m.rss / MIB);
      heap.push(m.heapUsed / MIB);
      external.push(m.external / MIB);
    };
    const t0 = performance.now();
    sample();
    for (let i = 1; i <= execs; i++) {
      await bindingExec(session);
      if (i % every === 0) sample();
    }
    const seconds = (performance.now() - t0) / 1e3;
    const xs = rss.map((_, i) => i * every);
    const half = Math.floor(rss.length / 2);
    const perK = (ys: number[]) => slope(xs.slice(half), ys.slice(half)) * 1024 * 1000;
    const execMemory: ExecMemory = {
      execs, every, rssMiB: rss, heapUsedMiB: heap, externalMiB: external,
      growthMiB: (rss[rss.length - 1]) - (rss[0]),
      slopeKiBPer1000: slope(xs, rss) * 1024 * 1000,
      slopeSecondHalfKiBPer1000: perK(rss),
      heapSlopeSecondHalfKiBPer1000: perK(heap),
      externalSlopeSecondHalfKiBPer1000: perK(external),
      seconds,
    };

    session.setTimeout(180_000);
    // fastGet into a file, verified afterwards (untimed, outside the sampling).
    const sftp = await session.sftpInit();
    const out = path.join(outDir, 'mem-fastget');
    transfers.push(await sampled('fastGet (defaults)', size, () => fastGet(sftp, file, out)));
    await sftp.shutdown();
    const got = sha256File(out);
    fs.rmSync(out, { force: true });
    if (got !== sha) throw new Error(`MEM: fastGet copy sha256 ${got} differs from the source's ${sha}`);
    // A channel stream (exec `cat file`), hashed on the fly.
    let streamed = { sha: '', n: 0 };
    transfers.push(await sampled('channel.stream() of `cat file`', size, async () => {
      streamed = await streamHash(session, file);
    }));
    if (streamed.n !== size || streamed.sha !== sha) throw new Error(`MEM: the stream gave ${streamed.n} bytes, sha256 ${streamed.sha}`);
    return { transfers, execs: execMemory };
  } finally {
    await bindingDisconnect(session);
  }
}

/**
 * "No upward slope": the fit over the second half of the samples (after the allocator's and
 * V8's warm-up) rises by less than 1 MiB over the whole run (~100 bytes per exec), which a leak
 * of a channel, a Buffer or an op per exec would exceed.
 */
const SLOPE_LIMIT_MIB = 1;

async function runMem(t: Target, opts: Options): Promise<SpecialResult> {
  const size = opts.quick ? MEM_SIZE_QUICK : MEM_SIZE;
  const execs = opts.iterations;
  const every = Math.max(1, Math.round(execs / 20));
  const root = fs.mkdtempSync(path.join(dataParent(2 * size + (64 << 20)), 'libssh2-bench-mem-'));
  fs.chmodSync(root, 0o711);
  try {
    const file = path.join(root, 'big');
    writeRandomFile(file, size);
    const sha = sha256File(file);
    const child = path.join(__dirname, 'mem-child.js');
    const r = await runProgram(process.execPath, ['--expose-gc', child, JSON.stringify({ t, file, size, sha, execs, every, outDir: root })],
      { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`bench/mem-child.js exited with ${r.code}: ${r.stderr.trim().slice(-2000)}`);
    const res = JSON.parse(r.stdout) as { transfers: TransferMemory[]; execs: ExecMemory };
    const e = res.execs;
    const fitRise = (e.slopeSecondHalfKiBPer1000 * execs) / 1000 / 1024;
    const checks: Check[] = [
      ...res.transfers.map((x) => ({
        workload: 'MEM', what: `RSS growth during ${fmt(size / MIB, 0)} MiB ${x.what} (MiB)`, target: '< 64',
        value: fmt(x.growthMiB, 1), pass: x.growthMiB < 64, required: true,
      })),
      {
        workload: 'MEM', what: `RSS fit over ${execs} exec round trips, second half (MiB over the run)`,
        target: `< ${SLOPE_LIMIT_MIB} (no upward slope)`, value: fmt(fitRise, 2), pass: fitRise < SLOPE_LIMIT_MIB, required: true,
      },
    ];
    const markdown = [
      `In a fresh Node process (\`node --expose-gc bench/mem-child.js\`), one authenticated session: first ${execs} exec ` +
        `round trips (W2's exec), RSS after a forced GC every ${every}; then RSS sampled every ${MEM_SAMPLE_MS} ms during ` +
        `each transfer of a random ${fmt(size / MIB, 0)} MiB file in ${path.dirname(root)} (growth = peak − the RSS just ` +
        'before, after a forced GC; each copy checked by sha256).',
      '',
      '| transfer | MiB/s | RSS before MiB | peak MiB | growth MiB |',
      '|---|---|---|---|---|',
      ...res.transfers.map((x) => `| ${x.what} | ${fmt(x.bytes / MIB / x.seconds, 1)} | ${fmt(x.baselineMiB, 1)} | ${fmt(x.peakMiB, 1)} | ` +
        `**${fmt(x.growthMiB, 1)}** |`),
      '',
      `Exec round trips: ${execs} in ${fmt(e.seconds, 1)} s; RSS ${fmt(e.rssMiB[0], 1)} → ` +
        `${fmt(e.rssMiB[e.rssMiB.length - 1], 1)} MiB (growth **${fmt(e.growthMiB, 2)} MiB**); least-squares slope ` +
        `**${fmt(e.slopeKiBPer1000, 1)} KiB per 1000 execs** over all samples, **${fmt(e.slopeSecondHalfKiBPer1000, 1)}** over the ` +
        `second half; heapUsed ${fmt(e.heapUsedMiB[0], 2)} → ${fmt(e.heapUsedMiB[e.heapUsedMiB.length - 1], 2)} MiB ` +
        `(second-half slope ${fmt(e.heapSlopeSecondHalfKiBPer1000, 1)} KiB per 1000), external ` +
        `${fmt(e.externalMiB[0], 2)} → ${fmt(e.externalMiB[e.externalMiB.length - 1], 2)} MiB ` +
        `(${fmt(e.externalSlopeSecondHalfKiBPer1000, 1)} KiB per 1000).`,
      '',
      `RSS samples (MiB): ${e.rssMiB.map((x) => fmt(x, 2)).join(', ')}.`,
      '',
    ].join('\n');
    return { markdown, json: res, checks };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export const mem: Special = {
  id: 'MEM',
  title: 'Memory: RSS over 1 GiB transfers and 10,000 exec round trips',
  special: true,
  defaults: { iterations: MEM_EXECS, rounds: 1 },
  quick: { iterations: MEM_EXECS_QUICK, rounds: 1 },
  run: runMem,
};
