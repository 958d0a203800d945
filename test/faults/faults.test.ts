/**
 * Fault injection (issue 11): cuts, stalls, corrupted bytes and killed/stopped sshd children,
 * against the real fixture sshd, during each kind of operation. Every pending promise rejects
 * with a typed error within the session's timeout, the session reports closed, no fd leaks and
 * no transfer reports success for incomplete data.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Channel, ConnectionError, Libssh2Error, OutOfBoundaryError, Session, TimeoutError } from '../../lib';
import { fixture } from '../fixtures';
import { connectTo, fdCount, type FaultPlan, type FaultProxy, killTracked, releaseSignalled, signalSshd, startFaultProxy, trackServed } from './proxy';

type Fault = 'cut' | 'stall' | 'flip' | 'garbage' | 'kill' | 'stop';

const TIMEOUT = 2500; // the session's op timeout
const BOUND = 12000; // "rejects long before 20 s" (wide margin for a noisy machine)

let proxy: FaultProxy | undefined;
let tmp: string;
const sessions: Session[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-faults-'));
  fs.chmodSync(tmp, 0o1777); // as root the fixture's login user is libssh2test
});
afterAll(() => {
  releaseSignalled();
  killTracked();
  fs.rmSync(tmp, { recursive: true, force: true });
});

afterEach(async () => {
  releaseSignalled();
  for (const s of sessions.splice(0)) await s.free().catch(() => undefined);
  await proxy?.close();
  proxy = undefined;
  // Whatever sshd started for a faulted connection (a killed sshd orphans its command) dies with the test.
  killTracked();
});

/** A session over the fault proxy (or a direct socket when `direct`), with TIMEOUT set. */
async function open(auth = true): Promise<{ s: Session; clientPort: number }> {
  proxy = await startFaultProxy();
  const sock = await connectTo(proxy.port);
  const s = new Session();
  sessions.push(s);
  s.setTimeout(TIMEOUT);
  await s.handshake(sock);
  if (auth) await s.userauthPublickeyFromfile(fixture().user, fixture().keys.ed25519.private);
  // The proxy's upstream socket is the client end sshd sees.
  return { s, clientPort: proxy.connections[0].upstream.localPort! };
}

/** Applies `fault` to the running connection. */
function inject(fault: Fault, clientPort: number): void {
  trackServed(clientPort); // afterEach kills what sshd started for this connection
  switch (fault) {
    case 'cut': proxy!.cut(); break;
    case 'stall': proxy!.stall(); break;
    case 'flip': proxy!.inject('down', { at: 0, kind: 'flip' }); break;
    case 'garbage': proxy!.inject('down', { at: 0, kind: 'insert', bytes: Buffer.alloc(64, 0x5a) }); break;
    case 'kill': signalSshd(clientPort, 'SIGKILL'); break;
    case 'stop': signalSshd(clientPort, 'SIGSTOP'); break;
  }
}

/** Waits for `p` to reject; returns the error and how long it took. */
async function rejection(p: Promise<unknown>, since = Date.now()): Promise<{ err: unknown; ms: number }> {
  const err = await p.then(() => new Error('resolved'), (e: unknown) => e);
  return { err, ms: Date.now() - since };
}

/** The error a fault must produce: a connection-level failure, or our TimeoutError for a silent peer. */
function expectTyped(err: unknown, fault: Fault): void {
  expect(err).toBeInstanceOf(Libssh2Error);
  const e = err as Libssh2Error;
  if (fault === 'stall' || fault === 'stop') {
    expect(e).toBeInstanceOf(TimeoutError);
  } else if (fault === 'flip' || fault === 'garbage') {
    // A bogus packet length (OUT_OF_BOUNDARY), or a MAC/decrypt failure (ConnectionError).
    expect([e.code, e instanceof ConnectionError || e instanceof OutOfBoundaryError]).toEqual([e.code, true]);
  } else {
    expect([e.code, e instanceof ConnectionError]).toEqual([e.code, true]);
  }
}

/** After everything is freed and closed, the fd count returns to `before` (margin 0). */
async function expectNoFdLeak(before: number): Promise<void> {
  for (const s of sessions.splice(0)) await s.free().catch(() => undefined);
  await proxy?.close();
  proxy = undefined;
  const until = Date.now() + 5000;
  while (fdCount() > before && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  expect(fdCount()).toBeLessThanOrEqual(before);
}

/** Reads from `ch` until at least `n` bytes arrived (the stream is flowing). */
async function readSome(ch: Channel, n: number): Promise<void> {
  let got = 0;
  while (got < n) {
    const b = await ch.read();
    if (b.length === 0) throw new Error('EOF');
    got += b.length;
  }
}

describe('handshake', () => {
  it.each<[string, FaultPlan]>([
    ['cut in the banner', { down: [{ at: 4, kind: 'cut' as const }] }],
    ['cut in KEXINIT', { down: [{ at: 300, kind: 'cut' as const }] }],
    ['cut of our KEXINIT', { up: [{ at: 200, kind: 'cut' as const }] }],
    ['flipped byte in KEXINIT', { down: [{ at: 100, kind: 'flip' as const }] }],
    ['stall after the banner', { down: [{ at: 40, kind: 'stall' as const }] }],
  ])('%s: rejects with a typed error, session closed, no fd leak', async (_name, plan) => {
    const before = fdCount();
    proxy = await startFaultProxy(plan);
    const s = new Session();
    sessions.push(s);
    s.setTimeout(TIMEOUT);
    const closed = new Promise((r) => s.once('close', r));
    const { err, ms } = await rejection(s.handshake(await connectTo(proxy.port)));
    expect(err).toBeInstanceOf(Libssh2Error);
    expect(err instanceof ConnectionError || err instanceof TimeoutError).toBe(true);
    if (plan.down?.[0].kind === 'stall') expect(err).toBeInstanceOf(TimeoutError);
    expect(ms).toBeLessThan(BOUND);
    expect(s.closed).toBe(true);
    await closed;
    await expectNoFdLeak(before);
  });

  it('sshd killed during the handshake: rejects at once (no timeout needed)', async () => {
    const before = fdCount();
    proxy = await startFaultProxy({ down: [{ at: 60, kind: 'stall' }] });
    const sock = await connectTo(proxy.port);
    const s = new Session();
    sessions.push(s);
    const t0 = Date.now();
    const p = rejection(s.handshake(sock));
    while (proxy.connections.length === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    signalSshd(proxy.connections[0].upstream.localPort!, 'SIGKILL');
    proxy.connections[0].upstream.once('close', () => proxy!.cut());
    const { err, ms } = await p;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(Date.now() - t0).toBeLessThan(BOUND);
    expect(ms).toBeLessThan(BOUND);
    expect(s.closed).toBe(true);
    await expectNoFdLeak(before);
  });
});

describe('userauth', () => {
  it.each<Fault>(['cut', 'stall', 'kill', 'stop', 'garbage'])('%s during publickey auth: typed error, closed', async (fault) => {
    const before = fdCount();
    const { s, clientPort } = await open(false);
    const auth = rejection(s.userauthPublickeyFromfile(fixture().user, fixture().keys.ed25519.private));
    inject(fault, clientPort);
    const { err, ms } = await auth;
    expectTyped(err, fault);
    expect(ms).toBeLessThan(BOUND);
    expect(s.closed).toBe(true);
    // A later op fails at once with the error that closed the session.
    const later = await rejection(s.openSession());
    expect(later.err).toBe(s.closeError);
    expect(later.ms).toBeLessThan(1000);
    await expectNoFdLeak(before);
  });
});

describe('exec read (a streaming command)', () => {
  it.each<Fault>(['cut', 'stall', 'flip', 'garbage', 'kill', 'stop'])('%s mid-stream: the read and the other pending ops reject', async (fault) => {
    const before = fdCount();
    const { s, clientPort } = await open();
    const ch = await s.openSession();
    // Bounded (it must not outlive a killed sshd: an endless loop did, 20 of them), and far more
    // than the window lets through before the fault.
    await ch.exec('timeout 60 head -c 256M /dev/zero');
    await readSome(ch, 20000);
    inject(fault, clientPort);
    const t0 = Date.now();
    // A parked read, a stderr read and a channel open (session state) wait together.
    const reads = (async () => { for (;;) await ch.read(); })();
    const stderr = ch.readStderr();
    const opening = s.openSession();
    const results = await Promise.all([rejection(reads, t0), rejection(stderr, t0), rejection(opening, t0)]);
    for (const { err, ms } of results) {
      expectTyped(err, fault);
      expect(ms).toBeLessThan(BOUND);
    }
    expect(s.closed).toBe(true);
    await expectNoFdLeak(before);
  });
});

describe('channel write (large stdin into cat > /dev/null)', () => {
  it.each<Fault>(['cut', 'stall', 'flip', 'kill', 'stop'])('%s mid-write: the write rejects, session closed', async (fault) => {
    const before = fdCount();
    const { s, clientPort } = await open();
    const ch = await s.openSession();
    await ch.exec('cat > /dev/null');
    await ch.write(Buffer.alloc(1 << 20, 1));
    const big = ch.write(Buffer.alloc(64 << 20, 2));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    inject(fault, clientPort);
    const pending = s.openSession();
    const results = await Promise.all([rejection(big, t0), rejection(pending, t0)]);
    for (const { err, ms } of results) {
      expectTyped(err, fault);
      expect(ms).toBeLessThan(BOUND);
    }
    expect(s.closed).toBe(true);
    await expectNoFdLeak(before);
  });
});

describe('sftp', () => {
  let big: string;
  beforeAll(() => {
    big = path.join(tmp, 'big.bin');
    const fd = fs.openSync(big, 'w');
    const chunk = Buffer.alloc(1 << 20, 7);
    for (let i = 0; i < 48; i++) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
    fs.chmodSync(big, 0o644);
  });

  it.each<Fault>(['cut', 'stall', 'flip', 'kill', 'stop'])('%s mid-read: rejects, closed, no fd leak', async (fault) => {
    const before = fdCount();
    const { s, clientPort } = await open();
    const sftp = await s.sftpInit();
    const h = await sftp.open(big, 0x1, 0);
    await h.read(262144);
    inject(fault, clientPort);
    const t0 = Date.now();
    const reading = (async () => { for (;;) if ((await h.read(262144)).length === 0) throw new Error('EOF'); })();
    const stat = sftp.stat(big);
    const results = await Promise.all([rejection(reading, t0), rejection(stat, t0)]);
    for (const { err, ms } of results) {
      expectTyped(err, fault);
      expect(ms).toBeLessThan(BOUND);
    }
    expect(s.closed).toBe(true);
    await expectNoFdLeak(before);
  });

  it.each<Fault>(['cut', 'stall', 'kill', 'stop'])('%s mid-write: rejects, closed', async (fault) => {
    const before = fdCount();
    const { s, clientPort } = await open();
    const sftp = await s.sftpInit();
    const target = path.join(tmp, `w-${fault}.bin`);
    const h = await sftp.open(target, 0x2 | 0x8 | 0x10, 0o644);
    await h.write(Buffer.alloc(65536, 3));
    const writing = (async () => { for (;;) await h.write(Buffer.alloc(1 << 20, 4)); })();
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    inject(fault, clientPort);
    const { err, ms } = await rejection(writing, t0);
    expectTyped(err, fault);
    expect(ms).toBeLessThan(BOUND);
    expect(s.closed).toBe(true);
    await expectNoFdLeak(before);
  });

  const transfers = (['fastGet', 'fastPut'] as const).flatMap((op) => (['kill', 'cut', 'stop'] as Fault[]).map((f) => [op, f] as const));
  it.each(transfers)('%s, sshd child %s mid-transfer: rejects, no target file (fastGet: no temp file either)', async (op, fault) => {
    const before = fdCount();
    const { s, clientPort } = await open();
    const sftp = await s.sftpInit();
    const name = `${op}-${fault}`;
    const target = path.join(tmp, `${name}.bin`); // local for fastGet, remote (same host) for fastPut
    let injected = false;
    const onProgress = (done: number) => {
      if (!injected && done > 0) {
        injected = true;
        inject(fault, clientPort);
      }
    };
    const t0 = Date.now();
    const transfer = op === 'fastGet' ? sftp.fastGet(big, target, { onProgress }) : sftp.fastPut(big, target, { onProgress });
    const { err, ms } = await rejection(transfer, t0);
    expect(injected).toBe(true);
    expectTyped(err, fault);
    expect(ms).toBeLessThan(BOUND + TIMEOUT);
    expect(s.closed).toBe(true);
    expect(fs.existsSync(target)).toBe(false);
    if (op === 'fastGet') expect(fs.readdirSync(tmp).filter((n) => n.includes(name))).toEqual([]);
    await expectNoFdLeak(before);
  });
});

describe('port forwarding (directTcpip to a local echo server)', () => {
  let echo: net.Server;
  const peers = new Set<net.Socket>();
  beforeAll(async () => {
    echo = net.createServer((c) => {
      peers.add(c);
      c.on('error', () => undefined);
      c.on('close', () => peers.delete(c));
      c.pipe(c);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const c of peers) c.destroy();
    await new Promise((r) => echo.close(r));
  });

  it.each<Fault>(['cut', 'stall', 'flip', 'kill', 'stop'])('%s mid-echo: pending read/write reject, closed', async (fault) => {
    const before = fdCount();
    const { s, clientPort } = await open();
    const ch = await s.directTcpip('127.0.0.1', (echo.address() as net.AddressInfo).port);
    await ch.write('hello');
    let echoed = '';
    while (echoed.length < 5) echoed += (await ch.read()).toString();
    expect(echoed).toBe('hello');
    const t0 = Date.now();
    inject(fault, clientPort);
    const reading = ch.read();
    const writing = (async () => { for (;;) await ch.write(Buffer.alloc(65536, 9)); })();
    const results = await Promise.all([rejection(reading, t0), rejection(writing, t0)]);
    for (const { err, ms } of results) {
      expectTyped(err, fault);
      expect(ms).toBeLessThan(BOUND);
    }
    expect(s.closed).toBe(true);
    // The echo server's end of sshd's forwarded connection lives in this process too; a stopped
    // sshd cannot close it: it is not ours to count.
    for (const c of peers) c.destroy();
    await expectNoFdLeak(before);
  });
});
