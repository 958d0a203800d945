/**
 * Fault injection for tests (issue 11): a loopback TCP proxy to the fixture's sshd that cuts,
 * stalls or corrupts the byte stream at a given offset per direction, and signals for the sshd
 * processes that serve one TCP connection (SIGKILL, SIGSTOP).
 */
import * as fs from 'fs';
import * as net from 'net';
import { fixture } from '../fixtures';

/** One fault, applied once when the direction's byte count reaches `at`. */
export type Fault =
  | { at: number; kind: 'cut' } // destroy both sides (the client sees EOF/RST)
  | { at: number; kind: 'stall'; ms?: number } // hold the bytes from `at` on for `ms` (forever if absent)
  | { at: number; kind: 'flip' } // xor the byte at `at` with 0xff
  | { at: number; kind: 'insert'; bytes: Buffer }; // insert `bytes` before the byte at `at`

export interface FaultPlan {
  /** Client → sshd. */
  up?: Fault[];
  /** sshd → client. */
  down?: Fault[];
}

export interface ProxiedConnection {
  client: net.Socket;
  upstream: net.Socket;
  /** Bytes forwarded so far per direction. */
  bytes: { up: number; down: number };
}

export interface FaultProxy {
  port: number;
  host: string;
  connections: ProxiedConnection[];
  /** Destroys every proxied connection now. */
  cut(): void;
  /** Stops forwarding in both directions (nothing is closed: a silent peer). */
  stall(): void;
  /** Adds a fault to every connection, `at` bytes after what that direction forwarded so far. */
  inject(direction: 'up' | 'down', fault: Fault): void;
  /** Cuts, then stops listening. */
  close(): Promise<void>;
}

/** Applies `faults` (sorted by `at`) to one direction; `pending` holds bytes during a stall. */
class Direction {
  count = 0;
  private faults: Fault[];
  private held: Buffer[] = [];
  private stalled = false;

  constructor(faults: Fault[] | undefined, private readonly out: net.Socket, private readonly onCut: () => void,
              private readonly timers: Set<NodeJS.Timeout>) {
    this.faults = [...(faults ?? [])].sort((a, b) => a.at - b.at);
  }

  /** Adds a fault `f.at` bytes after what has been forwarded so far. */
  add(f: Fault): void {
    this.faults.push({ ...f, at: this.count + f.at });
    this.faults.sort((a, b) => a.at - b.at);
  }

  stallForever(): void {
    this.stalled = true;
  }

  push(chunk: Buffer): void {
    if (this.stalled) {
      this.held.push(chunk);
      return;
    }
    while (chunk.length > 0) {
      const f = this.faults[0];
      if (!f || f.at >= this.count + chunk.length) {
        this.write(chunk);
        return;
      }
      const head = chunk.subarray(0, f.at - this.count);
      this.write(head);
      chunk = chunk.subarray(head.length);
      this.faults.shift();
      switch (f.kind) {
        case 'cut':
          this.onCut();
          return;
        case 'flip': {
          const b = Buffer.from(chunk.subarray(0, 1));
          b[0] ^= 0xff;
          this.write(b);
          chunk = chunk.subarray(1);
          break;
        }
        case 'insert':
          this.out.write(f.bytes); // not counted: offsets are in the original stream
          break;
        case 'stall': {
          this.stalled = true;
          this.held.push(chunk);
          if (f.ms !== undefined) {
            const t = setTimeout(() => {
              this.timers.delete(t);
              this.stalled = false;
              const held = this.held;
              this.held = [];
              for (const c of held) this.push(c);
            }, f.ms);
            this.timers.add(t);
          }
          return;
        }
      }
    }
  }

  private write(b: Buffer): void {
    if (b.length === 0 || this.out.destroyed) return;
    this.count += b.length;
    this.out.write(b);
  }
}

/** Starts a fault proxy to the fixture's sshd (or `target`) on a free loopback port. */
export async function startFaultProxy(plan: FaultPlan = {}, target = { host: fixture().host, port: fixture().port }): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const connections: ProxiedConnection[] = [];
  const directions: Direction[] = [];
  const byDir: { up: Direction[]; down: Direction[] } = { up: [], down: [] };
  const server = net.createServer((client) => {
    client.pause();
    const upstream = net.connect(target.port, target.host);
    const conn: ProxiedConnection = { client, upstream, bytes: { up: 0, down: 0 } };
    connections.push(conn);
    const destroy = () => { client.destroy(); upstream.destroy(); };
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.setNoDelay(true);
      sock.on('error', () => undefined);
      sock.on('close', () => { sockets.delete(sock); destroy(); });
    }
    const up = new Direction(plan.up, upstream, destroy, timers);
    const down = new Direction(plan.down, client, destroy, timers);
    directions.push(up, down);
    byDir.up.push(up);
    byDir.down.push(down);
    upstream.once('connect', () => client.resume());
    client.on('data', (d: Buffer) => { up.push(d); conn.bytes.up = up.count; });
    upstream.on('data', (d: Buffer) => { down.push(d); conn.bytes.down = down.count; });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cut = () => { for (const sock of sockets) sock.destroy(); };
  return {
    port: (server.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    connections,
    cut,
    stall: () => { for (const d of directions) d.stallForever(); },
    inject: (direction, fault) => { for (const d of byDir[direction]) d.add(fault); },
    close: () => new Promise<void>((r) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      cut();
      server.close(() => r());
    }),
  };
}

/** A socket connected to `port` on loopback (waits for 'connect'). */
export function connectTo(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// ---- the sshd processes behind one TCP connection -----------------------------------------

function hexAddr4(ip: string, port: number): string {
  const b = ip.split('.').map(Number);
  return `${Buffer.from(b.reverse()).toString('hex').toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The socket inode of the server side of the loopback TCP connection whose client end is
 * `clientPort` and whose server end is `serverPort` (/proc/net/tcp).
 */
function serverInode(serverPort: number, clientPort: number): string | undefined {
  const local = hexAddr4('127.0.0.1', serverPort);
  const remote = hexAddr4('127.0.0.1', clientPort);
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try { text = fs.readFileSync(table, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      // tcp6 shows v4-mapped addresses; compare the last 8 hex digits of the address and the port.
      const norm = (a: string) => { const [ip, port] = a.split(':'); return `${ip.slice(-8)}:${port}`; };
      if (norm(f[1]) === local && norm(f[2]) === remote && f[9] !== '0') return f[9];
    }
  }
  return undefined;
}

/**
 * The pids holding the server side of the connection from loopback `clientPort` to sshd on
 * `serverPort` (the sshd children serving that connection; they run as this user).
 */
export function sshdPidsFor(clientPort: number, serverPort = fixture().port): number[] {
  const inode = serverInode(serverPort, clientPort);
  if (!inode) return [];
  const want = `socket:[${inode}]`;
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let fds: string[];
    try { fds = fs.readdirSync(`/proc/${entry}/fd`); } catch { continue; }
    for (const fd of fds) {
      let link: string;
      try { link = fs.readlinkSync(`/proc/${entry}/fd/${fd}`); } catch { continue; }
      if (link === want) {
        pids.push(Number(entry));
        break;
      }
    }
  }
  return pids;
}

/** Signals sent by tests, undone (SIGCONT) by `releaseSignalled()`. */
const stopped = new Set<number>();

/** `pid`'s parent and start time (clock ticks since boot: tells a reused pid apart), from /proc. */
function procStat(pid: number): { ppid: number; start: string } | undefined {
  let text: string;
  try { text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  // "pid (comm) state ppid ..." — comm may hold spaces and parentheses: split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), start: f[19] };
}

/** Every live descendant of `roots` (not the roots), by walking /proc's parent links. */
export function descendantsOf(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = procStat(Number(entry));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(entry));
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const todo = [...roots];
  for (let i = 0; i < todo.length && i < 10000; i++) {
    for (const c of children.get(todo[i]) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/**
 * The processes sshd started for connections the tests faulted (the login shell and the command
 * it runs). Killing or stopping sshd orphans them; `killTracked()` (afterEach) makes sure none
 * outlives its test.
 */
const tracked = new Map<number, string>();

/** Records the sshd processes serving `clientPort` and everything they started (for `killTracked`). */
export function trackServed(clientPort: number, serverPort = fixture().port): void {
  const roots = sshdPidsFor(clientPort, serverPort);
  for (const pid of descendantsOf(roots)) {
    const st = procStat(pid);
    if (st) tracked.set(pid, st.start);
  }
}

/** SIGKILLs every tracked process still alive (same pid and start time); returns how many. */
export function killTracked(): number {
  let killed = 0;
  for (const [pid, start] of tracked) {
    const st = procStat(pid);
    if (st && st.start === start) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch { /* gone meanwhile */ }
    }
  }
  tracked.clear();
  return killed;
}

/** Sends `signal` to every sshd process serving the connection; returns the pids (throws if none). */
export function signalSshd(clientPort: number, signal: 'SIGKILL' | 'SIGSTOP', serverPort = fixture().port): number[] {
  const pids = sshdPidsFor(clientPort, serverPort);
  if (pids.length === 0) throw new Error(`no sshd process holds the server side of 127.0.0.1:${clientPort}`);
  trackServed(clientPort, serverPort); // their children are orphaned by a SIGKILL
  for (const pid of pids) {
    process.kill(pid, signal);
    if (signal === 'SIGSTOP') stopped.add(pid);
  }
  return pids;
}

/** afterEach: SIGCONT every process a test stopped (then SIGKILL it: the test is over). */
export function releaseSignalled(): void {
  for (const pid of stopped) {
    try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  stopped.clear();
}

/** Open file descriptors of this process. */
export function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}
