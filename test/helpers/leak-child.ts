/**
 * Child process of test/leaks.test.ts, run as
 * `node --expose-gc -r scripts/register-ts.js test/helpers/leak-child.ts <mode> <options JSON>`.
 *
 * Modes:
 * - `cheap`: create-and-drop cycles of objects that need no server (Session, KnownHosts with an
 *   entry, Agent), never freed by hand: garbage collection frees them.
 * - `connected`: sessions authenticated to the fixture, each with a channel that ran a command,
 *   a channel with a live remote process, an SFTP object with a file and a directory handle open;
 *   dropped without close/free in three orders (session reference first, children first, mixed),
 *   with gc() between the stages.
 *
 * After every batch it runs gc() (several times, waiting for the frees the finalizers queued)
 * and samples RSS and the number of open fds (/proc/self/fd). Prints one JSON line: the samples.
 */
import * as fs from 'fs';
import * as net from 'net';
import {
  Session, LIBSSH2_FXF_READ, LIBSSH2_KNOWNHOST_TYPE_PLAIN, LIBSSH2_KNOWNHOST_KEYENC_RAW, LIBSSH2_KNOWNHOST_KEY_SSHRSA,
  type Channel, type Sftp, type SftpHandle, type KnownHosts, type Agent,
} from '../../lib';

interface Sample {
  /** Cycles (cheap) or sessions (connected) done so far. */
  done: number;
  rss: number;
  /** V8 heap in use (tells JS-side growth from native growth). */
  heap: number;
  fds: number;
}

interface CheapOptions {
  cycles: number;
  batch: number;
  /** Positive control: keep every object (a deliberate leak the test must see). */
  keep?: boolean;
}

interface ConnectedOptions {
  host: string;
  port: number;
  user: string;
  key: string;
  sessions: number;
  batch: number;
  /** What each session opens besides itself (default all): 'done', 'live', 'sftp'. */
  parts?: string[];
  /** Positive control: keep every session (a deliberate leak the test must see). */
  keep?: boolean;
}

/** What a positive-control run keeps alive. */
const kept: unknown[] = [];

const gcNow = (globalThis as { gc?: () => void }).gc;
if (!gcNow) throw new Error('run with --expose-gc');
const gc: () => void = gcNow;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Full collections with pauses in between, so queued frees and finalizers get to run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(i === 0 ? 20 : 60);
  }
}

async function sample(samples: Sample[], done: number): Promise<void> {
  await settle();
  const m = process.memoryUsage();
  samples.push({ done, rss: m.rss, heap: m.heapUsed, fds: fdCount() });
}

/** One cheap cycle: nothing is kept, nothing is freed by hand. */
function cheapCycle(i: number, keep: boolean): void {
  const s = new Session();
  if (keep) kept.push(s);
  s.bannerSet(`SSH-2.0-leak_${i}`);
  s.setTimeout(1000 + (i % 7));
  const kh: KnownHosts = s.knownhostInit();
  kh.addc(`host${i}.example`, Buffer.alloc(64, i & 0xff), LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | LIBSSH2_KNOWNHOST_KEY_SSHRSA);
  kh.get();
  const agent: Agent = s.agentInit();
  agent.getIdentityPath();
  if (i % 3 === 0) kh.free(); // some children freed by hand, the rest by GC
  s.supportedAlgs(2);
}

async function runCheap(o: CheapOptions): Promise<Sample[]> {
  const samples: Sample[] = [];
  await sample(samples, 0);
  for (let done = 0; done < o.cycles;) {
    for (let j = 0; j < o.batch && done < o.cycles; j++, done++) cheapCycle(done, o.keep === true);
    await sample(samples, done);
  }
  return samples;
}

function tcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** What one connected session holds; every field is dropped (set undefined), never closed. */
interface Held {
  session?: Session;
  done?: Channel;
  live?: Channel;
  sftp?: Sftp;
  file?: SftpHandle;
  dir?: SftpHandle;
}

async function openOne(o: ConnectedOptions, n: number): Promise<Held> {
  const parts = new Set(o.parts ?? ['done', 'live', 'sftp']);
  const session = new Session();
  await session.handshake(await tcp(o.host, o.port));
  await session.userauthPublickeyFromfile(o.user, o.key);
  const held: Held = { session };
  if (parts.has('done')) {
    const done = await session.openSession();
    await done.exec(`echo out${n}`);
    let out = '';
    for (let chunk = await done.read(); chunk.length > 0; chunk = await done.read()) out += chunk.toString();
    if (out !== `out${n}\n`) throw new Error(`exec output ${JSON.stringify(out)}`);
    held.done = done;
  }
  if (parts.has('live')) {
    const live = await session.openSession();
    await live.exec('cat >/dev/null'); // runs until the channel goes away
    await live.write('some input\n');
    held.live = live;
  }
  if (parts.has('sftp')) {
    const sftp = await session.sftpInit();
    const file = await sftp.open('/etc/passwd', LIBSSH2_FXF_READ, 0);
    const head = await file.read(64);
    if (head.length === 0) throw new Error('empty SFTP read');
    const dir = await sftp.opendir('/');
    await dir.readdir();
    Object.assign(held, { sftp, file, dir });
  }
  return held;
}

type Order = 'session-first' | 'children-first' | 'mixed';
const ORDERS: Order[] = ['session-first', 'children-first', 'mixed'];

/** Drops the references of a batch in `order`, with a full GC between the stages. */
async function drop(held: Held[], order: Order): Promise<void> {
  const stages: (keyof Held)[][] =
    order === 'session-first' ? [['session'], ['sftp', 'live'], ['file', 'dir', 'done']]
      : order === 'children-first' ? [['file', 'dir'], ['sftp', 'done', 'live'], ['session']]
        : [['dir', 'session'], ['live', 'file'], ['sftp', 'done']];
  for (const stage of stages) {
    for (const h of held) for (const k of stage) h[k] = undefined;
    gc();
    await sleep(10);
  }
  held.length = 0;
}

async function runConnected(o: ConnectedOptions): Promise<{ samples: Sample[]; orders: Record<Order, number> }> {
  const samples: Sample[] = [];
  const orders: Record<Order, number> = { 'session-first': 0, 'children-first': 0, mixed: 0 };
  // One warm-up batch (first-use allocations of OpenSSL, libuv, the addon), not sampled.
  const warm = await Promise.all(Array.from({ length: o.batch }, (_, j) => openOne(o, -1 - j)));
  await drop(warm, 'mixed');
  await sample(samples, 0);
  let batchNo = 0;
  for (let done = 0; done < o.sessions; batchNo++) {
    const n = Math.min(o.batch, o.sessions - done);
    const held = await Promise.all(Array.from({ length: n }, (_, j) => openOne(o, done + j)));
    const order = ORDERS[batchNo % ORDERS.length];
    if (o.keep) kept.push(...held.map((h) => ({ ...h })));
    await drop(held, order);
    orders[order] += n;
    done += n;
    await sample(samples, done);
  }
  return { samples, orders };
}

async function main(): Promise<void> {
  const [mode, json] = process.argv.slice(2);
  const options: unknown = JSON.parse(json ?? '{}');
  const t0 = Date.now();
  const result = mode === 'cheap'
    ? { samples: await runCheap(options as CheapOptions) }
    : mode === 'connected'
      ? await runConnected(options as ConnectedOptions)
      : undefined;
  if (!result) throw new Error(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify({ ...result, ms: Date.now() - t0 }) + '\n');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`leak-child failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(2);
  },
);
