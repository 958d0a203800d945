/**
 * The SFTP workloads of ANCHORS.md: W4 download of a large file, W5 upload of it, W6 download of
 * many 4 KiB files (open/read/close per file, sequential on one SFTP session). Data lives in
 * /dev/shm (else os.tmpdir()), in one private directory per workload that the sshd's login user
 * can read (sources) and write (upload targets). Every transferred file is checked afterwards
 * (untimed): size and sha256 against the source, so a broken transfer cannot look fast.
 *
 * Peers: the C program on the same libssh2 (bench/c/sftp.c), this binding (fastGet/fastPut with
 * their defaults, and one stream of `handle.read`/`handle.write` on one SFTP object), OpenSSH's
 * `sftp -b`, and the `ssh2` npm package with setNoDelay(true).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Client, SFTPWrapper } from 'ssh2';
import { LIBSSH2_FXF_CREAT, LIBSSH2_FXF_READ, LIBSSH2_FXF_TRUNC, LIBSSH2_FXF_WRITE, type Sftp } from '../lib';
import { runProgram } from '../test/fixtures/run';
import { runChild, timeInProcess, withTimeout, type Batch, type Methods, type Options, type Peer, type Target, type Workload } from './harness';
import { bindingConnect, bindingDisconnect, ssh2Connect, ssh2Disconnect } from './clients';
import { opensshMethods, opensshOptions } from './openssh';

/** W4/W5 file size: full run and --quick. */
const BIG_SIZE = 1 << 30;
const BIG_SIZE_QUICK = 32 << 20;
/** W6: size of each small file. */
const SMALL_SIZE = 4096;
/**
 * Read/write size of the libssh2 peers for W4/W5 (C and the binding's one stream): 32 × libssh2's
 * 30000-byte SFTP packets, lib/transfer.ts's chunk. The C program was fastest with it (README).
 */
export const BIG_BUF = 960000;
/** Read size for W6 (C, binding, ssh2): larger than the file, so one read returns all of it. */
export const SMALL_BUF = 32768;
/** Bounds one whole transfer of a big file (every libssh2 call is also bounded by 10 s). */
const BIG_OP_TIMEOUT_MS = 180_000;
/** Bounds one small-file op. */
const SMALL_OP_TIMEOUT_MS = 10_000;

type Kind = 'get' | 'put' | 'many';

/** The data of the running workload. */
interface Data {
  root: string;
  kind: Kind;
  /** W4/W5: the source file, its size and sha256. */
  big: string;
  bigSize: number;
  bigSha: string;
  /** W6: the directory of f0000, f0001, ... and their contents. */
  smallDir: string;
  small: Buffer[];
  /** Batches so far (names the per-batch directories). */
  seq: number;
}

let data: Data | null = null;
/** The size of the last big file (for the MB/s of the report, written after the teardown). */
let bigSizeUsed = BIG_SIZE;

function current(): Data {
  if (!data) throw new Error('the SFTP workload data is not set up');
  return data;
}

/**
 * /dev/shm when it is a writable directory with room for `need` bytes (containers often have
 * only 64 MiB there), else os.tmpdir().
 */
export function dataParent(need: number): string {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    const st = fs.statfsSync('/dev/shm');
    if (fs.statSync('/dev/shm').isDirectory() && st.bavail * st.bsize >= need) return '/dev/shm';
  } catch {
    // fall through
  }
  process.stderr.write(`bench: /dev/shm is missing or has less than ${Math.ceil(need / 2 ** 20)} MiB free: data in ${os.tmpdir()}\n`);
  return os.tmpdir();
}

let exitHook = false;

function makeRoot(need: number): string {
  const root = fs.mkdtempSync(path.join(dataParent(need), 'libssh2-bench-'));
  // The sshd's login user (libssh2test when we run as root) reads the sources and the batch
  // directories; upload directories are made world-writable below.
  fs.chmodSync(root, 0o711);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      if (data) fs.rmSync(data.root, { recursive: true, force: true });
    });
  }
  return root;
}

export function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(8 << 20);
  const fd = fs.openSync(file, 'r');
  try {
    for (let n = fs.readSync(fd, buf, 0, buf.length, null); n > 0; n = fs.readSync(fd, buf, 0, buf.length, null)) {
      h.update(n === buf.length ? buf : buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

export function writeRandomFile(file: string, size: number): void {
  const fd = fs.openSync(file, 'w', 0o644);
  try {
    const buf = Buffer.allocUnsafe(16 << 20);
    for (let done = 0; done < size;) {
      const n = Math.min(buf.length, size - done);
      crypto.randomFillSync(buf, 0, n);
      fs.writeSync(fd, buf, 0, n);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(file, 0o644);
}

async function setup(kind: Kind, opts: Options, files: number): Promise<void> {
  // The source, and one batch's outputs (each verified and removed after its batch).
  const size = kind === 'many' ? SMALL_SIZE * 2 : opts.quick ? BIG_SIZE_QUICK : BIG_SIZE;
  const perBatch = kind === 'many' ? files + opts.warmup : Math.ceil(opts.iterations / opts.rounds) + opts.warmup;
  const root = makeRoot(size * (1 + perBatch) + (64 << 20));
  const d: Data = { root, kind, big: '', bigSize: 0, bigSha: '', smallDir: '', small: [], seq: 0 };
  data = d;
  if (kind === 'many') {
    d.smallDir = path.join(root, 'small');
    fs.mkdirSync(d.smallDir, { mode: 0o755 });
    for (let i = 0; i < files; i++) {
      const b = crypto.randomBytes(SMALL_SIZE);
      fs.writeFileSync(path.join(d.smallDir, smallName(i)), b, { mode: 0o644 });
      d.small.push(b);
    }
  } else {
    d.bigSize = opts.quick ? BIG_SIZE_QUICK : BIG_SIZE;
    bigSizeUsed = d.bigSize;
    d.big = path.join(root, 'big');
    writeRandomFile(d.big, d.bigSize);
    d.bigSha = sha256File(d.big);
  }
}

async function teardown(): Promise<void> {
  if (data) fs.rmSync(data.root, { recursive: true, force: true });
  data = null;
}

const smallName = (i: number) => `f${String(i).padStart(4, '0')}`;

/**
 * Names of the outputs of one batch, as every peer writes them: W4/W5 `w<i>` (warm-ups) and
 * `t<i>`; W6 `w<i>`/`f<i>` (4 digits) for source f<i>.
 */
function outName(kind: Kind, i: number, warm: boolean): string {
  if (kind === 'many') return `${warm ? 'w' : 'f'}${String(i).padStart(4, '0')}`;
  return `${warm ? 'w' : 't'}${i}`;
}

/**
 * Checks every output of a batch against its source (size and sha256, or the bytes for W6) and
 * that nothing else is in the directory; then removes the directory.
 */
function verifyBatch(dir: string, peer: string, iterations: number, warmup: number): void {
  const d = current();
  const expected = new Map<string, number>();
  for (let i = 0; i < warmup; i++) expected.set(outName(d.kind, i, true), i);
  for (let i = 0; i < iterations; i++) expected.set(outName(d.kind, i, false), i);
  const found = fs.readdirSync(dir);
  const extra = found.filter((f) => !expected.has(f));
  if (extra.length > 0) throw new Error(`${peer}: unexpected files after the batch: ${extra.slice(0, 5).join(', ')}`);
  for (const [name, i] of expected) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new Error(`${peer}: ${name} is missing`);
    const size = fs.statSync(file).size;
    if (d.kind === 'many') {
      const want = d.small[i];
      if (!fs.readFileSync(file).equals(want)) throw new Error(`${peer}: ${name} differs from its source (${size} bytes)`);
    } else {
      if (size !== d.bigSize) throw new Error(`${peer}: ${name} has ${size} bytes, expected ${d.bigSize}`);
      const sha = sha256File(file);
      if (sha !== d.bigSha) throw new Error(`${peer}: ${name} sha256 ${sha} differs from the source's ${d.bigSha}`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Runs one batch of a peer with a fresh output directory (local for W4/W6, the remote upload
 * directory for W5, world-writable for the sshd user), then verifies and removes it.
 */
function verified(name: string, label: string, run: (t: Target, iterations: number, warmup: number, dir: string) => Promise<Batch>): Peer {
  return {
    name,
    label,
    async run(t, iterations, warmup): Promise<Batch> {
      const d = current();
      const dir = path.join(d.root, `b${++d.seq}-${name.replace(/[^a-z0-9]+/gi, '-')}`);
      fs.mkdirSync(dir);
      fs.chmodSync(dir, 0o777);
      try {
        const batch = await run(t, iterations, warmup, dir);
        verifyBatch(dir, name, iterations, warmup);
        return batch;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

// ---- C ---------------------------------------------------------------------------------------

function cSftpPeer(kind: Kind, label: string): Peer {
  return verified('C', label, async (t, iterations, warmup, dir) => {
    const d = current();
    const exe = path.join(__dirname, 'c', 'build', 'sftp');
    const [src, dst, buf] = kind === 'get' ? [d.big, dir, BIG_BUF] : kind === 'put' ? [d.big, dir, BIG_BUF] : [d.smallDir, dir, SMALL_BUF];
    const perOp = kind === 'many' ? SMALL_OP_TIMEOUT_MS : BIG_OP_TIMEOUT_MS;
    const out = await runChild(exe, [t.host, String(t.port), t.user, t.privkey, String(iterations), String(warmup), kind, src, dst, String(buf)],
      30_000 + (iterations + warmup) * perOp);
    const r = JSON.parse(out) as { ms: number[]; wall_ms: number; cpu_user_ms: number; cpu_sys_ms: number; methods: Methods | null };
    return { ms: r.ms, wallMs: r.wall_ms, cpuUserMs: r.cpu_user_ms, cpuSysMs: r.cpu_sys_ms, methods: r.methods };
  });
}

// ---- this binding ----------------------------------------------------------------------------

async function withBindingSftp(t: Target, body: (sftp: Sftp) => Promise<Omit<Batch, 'methods'>>): Promise<Batch> {
  const { session, methods } = await bindingConnect(t);
  try {
    const sftp = await session.sftpInit();
    try {
      return { ...(await body(sftp)), methods };
    } finally {
      await sftp.shutdown();
    }
  } finally {
    await bindingDisconnect(session);
  }
}

function writeAll(fd: number, b: Buffer): void {
  for (let off = 0; off < b.length;) off += fs.writeSync(fd, b, off, b.length - off);
}

/** One stream: open, `read(BIG_BUF)` + writeSync until an empty Buffer, close. */
async function bindingGet1(sftp: Sftp, remote: string, local: string, size: number): Promise<void> {
  const h = await sftp.open(remote, LIBSSH2_FXF_READ);
  const fd = fs.openSync(local, 'w');
  try {
    for (let n = 0; ; n++) {
      if (n > size + 1) throw new Error(`${remote}: no EOF after ${n} reads`);
      const b = await h.read(BIG_BUF);
      if (b.length === 0) break;
      writeAll(fd, b);
    }
  } finally {
    fs.closeSync(fd);
    await h.close();
  }
}

/** One stream: open(WRITE|CREAT|TRUNC), readSync of BIG_BUF + `write()` (all of it) until EOF, close. */
async function bindingPut1(sftp: Sftp, local: string, remote: string): Promise<void> {
  const fd = fs.openSync(local, 'r');
  const buf = Buffer.allocUnsafe(BIG_BUF);
  try {
    const h = await sftp.open(remote, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, 0o644);
    try {
      for (let n = fs.readSync(fd, buf, 0, buf.length, null); n > 0; n = fs.readSync(fd, buf, 0, buf.length, null)) {
        await h.write(n === buf.length ? buf : buf.subarray(0, n));
      }
    } finally {
      await h.close();
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** W6, one file: open, `readInto` of one reused SMALL_BUF-byte buffer until 0, close; then the local file. */
async function bindingGetSmall(sftp: Sftp, remote: string, local: string, buf: Buffer): Promise<void> {
  // As the C program: reads into one reused buffer until 0, then writes the bytes locally.
  const h = await sftp.open(remote, LIBSSH2_FXF_READ);
  let got = 0;
  try {
    for (let n = 0; ; n++) {
      if (n > SMALL_SIZE + 1 || got === buf.length) throw new Error(`${remote}: no EOF after ${n} reads (${got} bytes)`);
      const k = await h.readInto(buf.subarray(got));
      if (k === 0) break;
      got += k;
    }
  } finally {
    await h.close();
  }
  fs.writeFileSync(local, buf.subarray(0, got));
}

type BindingMode = 'fast' | 'one';

function bindingPeer(kind: Kind, mode: BindingMode): Peer {
  const name = mode === 'fast' ? 'binding' : 'binding-1';
  const label = kind === 'many'
    ? 'this binding (open/readInto/close per file)'
    : mode === 'fast'
      ? `this binding, ${kind === 'get' ? 'fastGet' : 'fastPut'} (defaults: 1 SFTP object, 960000-byte chunks)`
      : `this binding, 1 stream (\`handle.${kind === 'get' ? 'read' : 'write'}\` of ${BIG_BUF} bytes, one SFTP object)`;
  return verified(name, label, (t, iterations, warmup, dir) => withBindingSftp(t, (sftp) => {
    const d = current();
    const small = Buffer.allocUnsafe(SMALL_BUF);
    return timeInProcess(iterations, warmup, async (i, warm) => {
      const out = path.join(dir, outName(kind, i, warm));
      let op: Promise<void>;
      if (kind === 'many') op = bindingGetSmall(sftp, path.join(d.smallDir, smallName(i)), out, small);
      else if (kind === 'get') op = mode === 'fast' ? sftp.fastGet(d.big, out) : bindingGet1(sftp, d.big, out, d.bigSize);
      else op = mode === 'fast' ? sftp.fastPut(d.big, out) : bindingPut1(sftp, d.big, out);
      // A small file's ops are each bounded by the session's per-call timeout, as the C program's
      // blocking calls are by libssh2's: no JS timer per file (it cost W6 3-5 %).
      if (kind === 'many') await op;
      else await withTimeout(op, BIG_OP_TIMEOUT_MS, `binding ${kind}`);
    });
  }));
}

// ---- ssh2 + setNoDelay -------------------------------------------------------------------------

function ssh2Sftp(conn: Client): Promise<SFTPWrapper> {
  return withTimeout(new Promise<SFTPWrapper>((resolve, reject) => {
    conn.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)));
  }), SMALL_OP_TIMEOUT_MS, 'ssh2 sftp', () => conn.destroy());
}

function cb2promise(conn: Client, ms: number, what: string, start: (cb: (err: Error | undefined) => void) => void): Promise<void> {
  return withTimeout(new Promise<void>((resolve, reject) => start((err) => (err ? reject(err) : resolve()))), ms, what,
    () => conn.destroy());
}

/** W6 with ssh2, one file: open, read(SMALL_BUF) until 0 bytes, close; then the local file. */
async function ssh2GetSmall(conn: Client, sftp: SFTPWrapper, remote: string, local: string): Promise<void> {
  const handle = await withTimeout(new Promise<Buffer>((resolve, reject) => {
    sftp.open(remote, 'r', (err, h) => (err ? reject(err) : resolve(h)));
  }), SMALL_OP_TIMEOUT_MS, 'ssh2 open', () => conn.destroy());
  const buf = Buffer.allocUnsafe(SMALL_BUF);
  let got = 0;
  try {
    for (let n = 0; ; n++) {
      if (got === buf.length || n > SMALL_SIZE + 1) throw new Error(`${remote}: larger than ${buf.length} bytes or no EOF`);
      const nb = await withTimeout(new Promise<number>((resolve, reject) => {
        sftp.read(handle, buf, got, buf.length - got, got, (err, bytes) => (err ? reject(err) : resolve(bytes)));
      }), SMALL_OP_TIMEOUT_MS, 'ssh2 read', () => conn.destroy());
      if (nb === 0) break;
      got += nb;
    }
  } finally {
    await cb2promise(conn, SMALL_OP_TIMEOUT_MS, 'ssh2 close', (cb) => sftp.close(handle, cb));
  }
  fs.writeFileSync(local, buf.subarray(0, got));
}

function ssh2Peer(kind: Kind, noDelay = true): Peer {
  const who = noDelay ? '`ssh2` npm + setNoDelay(true)' : '`ssh2` npm, defaults';
  const label = kind === 'many'
    ? `${who} (open/read/close per file)`
    : `${who}, ${kind === 'get' ? 'fastGet' : 'fastPut'} (defaults: 64 × 32 KiB requests)`;
  return verified(noDelay ? 'ssh2+nodelay' : 'ssh2', label, async (t, iterations, warmup, dir) => {
    const d = current();
    const { conn, methods } = await ssh2Connect(t, noDelay);
    try {
      const sftp = await ssh2Sftp(conn);
      const b = await timeInProcess(iterations, warmup, async (i, warm) => {
        const out = path.join(dir, outName(kind, i, warm));
        if (kind === 'many') await ssh2GetSmall(conn, sftp, path.join(d.smallDir, smallName(i)), out);
        else if (kind === 'get') await cb2promise(conn, BIG_OP_TIMEOUT_MS, 'ssh2 fastGet', (cb) => sftp.fastGet(d.big, out, {}, cb));
        else await cb2promise(conn, BIG_OP_TIMEOUT_MS, 'ssh2 fastPut', (cb) => sftp.fastPut(d.big, out, {}, cb));
      });
      sftp.end();
      return { ...b, methods };
    } finally {
      await ssh2Disconnect(conn);
    }
  });
}

// ---- OpenSSH sftp -b -------------------------------------------------------------------------

let clockTicks = 0;

/** sysconf(_SC_CLK_TCK), the unit of utime/stime in /proc/<pid>/stat. */
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 10_000 });
    clockTicks = Number(r.stdout?.trim()) || 100;
  }
  return clockTicks;
}

/**
 * The stamp script the batch runs with `!`: `STAMP T <ns>` (date) and `STAMP P <stat>` of the
 * sftp process and its children (ssh), CPU first and time last at the beginning, the other way
 * round at the end, so the shell's own work stays out of the timed span as far as possible.
 */
function stampScript(root: string): string {
  const file = path.join(root, 'stamp.sh');
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, [
      '#!/bin/sh',
      '# stamp.sh SFTP_PID begin|mid|end',
      'cpu() { for p in $1 $(cat /proc/$1/task/*/children 2>/dev/null); do',
      '  [ -r /proc/$p/stat ] && echo "STAMP P $(cat /proc/$p/stat)"; done; }',
      'case $2 in',
      '  begin) cpu $1; echo "STAMP T $(date +%s%N)" ;;',
      '  mid) echo "STAMP T $(date +%s%N)" ;;',
      '  end) echo "STAMP T $(date +%s%N)"; cpu $1 ;;',
      'esac',
      '',
    ].join('\n'), { mode: 0o755 });
  }
  return file;
}

interface Stamp {
  ns: bigint;
  /** utime + stime ticks of sftp and ssh at a begin/end stamp. */
  user: number;
  sys: number;
}

/** Parses the STAMP lines: the times and, at begin and end, the CPU of (sftp) and (ssh). */
function parseStamps(stdout: string): Stamp[] {
  const stamps: Stamp[] = [];
  let user = 0;
  let sys = 0;
  let sawCpu = false;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('STAMP P ')) {
      const stat = line.slice(8);
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== 'sftp' && comm !== 'ssh') continue;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(f[11]);
      sys += Number(f[12]);
      sawCpu = true;
    } else if (line.startsWith('STAMP T ')) {
      stamps.push({ ns: BigInt(line.slice(8).trim()), user: sawCpu ? user : NaN, sys: sawCpu ? sys : NaN });
      user = 0;
      sys = 0;
      sawCpu = false;
    }
  }
  // The end stamp prints its CPU after its time.
  const last = stamps[stamps.length - 1];
  if (last && sawCpu) {
    last.user = user;
    last.sys = sys;
  }
  return stamps;
}

const quote = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;

function opensshPeer(kind: Kind): Peer {
  const label = kind === 'many' ? 'OpenSSH `sftp -b` (1 `get` per file; per-file ms = mean)'
    : `OpenSSH \`sftp -b\` (\`${kind}\`, defaults: 64 × 32 KiB requests)`;
  return verified('openssh', label, async (t, iterations, warmup, dir) => {
    const d = current();
    const stamp = stampScript(d.root);
    const cmd = (i: number, warm: boolean) => {
      const out = path.join(dir, outName(kind, i, warm));
      if (kind === 'many') return `get ${quote(path.join(d.smallDir, smallName(i)))} ${quote(out)}`;
      return kind === 'get' ? `get ${quote(d.big)} ${quote(out)}` : `put ${quote(d.big)} ${quote(out)}`;
    };
    const lines: string[] = [];
    for (let i = 0; i < warmup; i++) lines.push(cmd(i, true));
    lines.push(`!${stamp} $PPID begin`);
    for (let i = 0; i < iterations; i++) {
      lines.push(cmd(i, false));
      // Per-op times for the big files; for W6 a stamp per file would time the stamps.
      if (kind !== 'many' && i < iterations - 1) lines.push(`!${stamp} $PPID mid`);
    }
    lines.push(`!${stamp} $PPID end`);
    const batchFile = path.join(d.root, `batch-${d.seq}`);
    fs.writeFileSync(batchFile, lines.join('\n') + '\n');
    const args = [
      '-b', batchFile, '-P', String(t.port), ...opensshOptions(t, true), `${t.user}@${t.host}`,
    ];
    const perOp = kind === 'many' ? SMALL_OP_TIMEOUT_MS : BIG_OP_TIMEOUT_MS;
    const r = await runProgram('sftp', args, { timeoutMs: 30_000 + (iterations + warmup) * perOp });
    fs.rmSync(batchFile, { force: true });
    if (r.code !== 0) throw new Error(`sftp -b exited with ${r.code}: ${r.stderr.split('\n').filter((l) => !l.startsWith('debug1')).join('\n').trim()}`);
    const stamps = parseStamps(r.stdout);
    const expected = kind === 'many' ? 2 : iterations + 1;
    if (stamps.length !== expected) throw new Error(`sftp -b: ${stamps.length} stamps, expected ${expected}`);
    const first = stamps[0];
    const last = stamps[stamps.length - 1];
    const wallMs = Number(last.ns - first.ns) / 1e6;
    const ms = kind === 'many'
      ? Array.from({ length: iterations }, () => wallMs / iterations)
      : stamps.slice(1).map((s, i) => Number(s.ns - stamps[i].ns) / 1e6);
    const tick = 1000 / ticksPerSecond();
    return {
      ms, wallMs, cpuUserMs: (last.user - first.user) * tick, cpuSysMs: (last.sys - first.sys) * tick,
      methods: opensshMethods(r.stderr),
    };
  });
}

// ---- the workloads ---------------------------------------------------------------------------

const C_LABEL = 'C program on the same libssh2 (blocking, TCP_NODELAY';

function bigRate() {
  return { unit: 'MB/s', perOp: () => bigSizeUsed / 1e6 };
}

const bigRatios = (): [string, string][] => [
  ['binding', 'C'], ['binding-1', 'C'], ['binding', 'openssh'], ['binding-1', 'openssh'],
  ['binding', 'ssh2'], ['binding', 'ssh2+nodelay'], ['binding-1', 'ssh2+nodelay'],
];

export const w4: Workload = {
  id: 'W4',
  title: 'W4 SFTP download of a large file',
  description: 'one connection and SFTP session per batch (untimed), then downloads of one random file ' +
    '(1 GiB; --quick 32 MiB) from /dev/shm to a new local file in /dev/shm, each checked afterwards (size, sha256); MB = 10^6 bytes',
  unit: 'transfer',
  throughput: true,
  rate: bigRate(),
  peers: [cSftpPeer('get', `${C_LABEL}, \`libssh2_sftp_read\` of ${BIG_BUF} bytes)`), bindingPeer('get', 'fast'),
    bindingPeer('get', 'one'), opensshPeer('get'), ssh2Peer('get', false), ssh2Peer('get')],
  ratios: bigRatios(),
  defaults: { iterations: 5, rounds: 5, warmup: 0 },
  quick: { iterations: 2, rounds: 1, warmup: 0 },
  setup: (_t, opts) => setup('get', opts, 0),
  teardown,
};

export const w5: Workload = {
  id: 'W5',
  title: 'W5 SFTP upload of a large file',
  description: 'one connection and SFTP session per batch (untimed), then uploads of one random local file ' +
    '(1 GiB; --quick 32 MiB) in /dev/shm to a new remote file in /dev/shm, each checked afterwards (size, sha256); MB = 10^6 bytes',
  unit: 'transfer',
  throughput: true,
  rate: bigRate(),
  peers: [cSftpPeer('put', `${C_LABEL}, \`libssh2_sftp_write\` of ${BIG_BUF} bytes)`), bindingPeer('put', 'fast'),
    bindingPeer('put', 'one'), opensshPeer('put'), ssh2Peer('put', false), ssh2Peer('put')],
  ratios: bigRatios(),
  defaults: { iterations: 5, rounds: 5, warmup: 0 },
  quick: { iterations: 2, rounds: 1, warmup: 0 },
  setup: (_t, opts) => setup('put', opts, 0),
  teardown,
};

export const w6: Workload = {
  id: 'W6',
  title: 'W6 SFTP download of many 4 KiB files',
  description: 'one connection and SFTP session per batch (untimed), then each file in turn: open, read until EOF ' +
    `(${SMALL_BUF}-byte reads), close, and write it to a new local file; files of 4 KiB in /dev/shm, each checked afterwards`,
  unit: 'file',
  throughput: true,
  peers: [cSftpPeer('many', `${C_LABEL}, \`libssh2_sftp_read\` of ${SMALL_BUF} bytes)`), bindingPeer('many', 'fast'),
    opensshPeer('many'), ssh2Peer('many', false), ssh2Peer('many')],
  ratios: [['binding', 'C'], ['binding', 'openssh'], ['binding', 'ssh2'], ['binding', 'ssh2+nodelay']],
  targets: [{ of: 'binding', to: 'C', min: 0.9, required: true }],
  defaults: { iterations: 5000, rounds: 5 },
  quick: { iterations: 100, rounds: 1 },
  setup: (_t, opts) => setup('many', opts, Math.ceil(opts.iterations / opts.rounds)),
  teardown,
};
