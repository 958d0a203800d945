/**
 * Non-blocking mode (DESIGN.md "Modes"): the …Nb() twins, setBlocking(), blockDirections() and
 * waitSocket(), against the fixture sshd. Every Nb method is driven until it returned
 * LIBSSH2_ERROR_EAGAIN at least once; the last test checks that list against the classes' Nb
 * method tables.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import {
  BadUseError, Channel, LIBSSH2_ERROR_EAGAIN, LIBSSH2_FXF_CREAT, LIBSSH2_FXF_READ, LIBSSH2_FXF_TRUNC,
  LIBSSH2_FXF_WRITE, LIBSSH2_SESSION_BLOCK_INBOUND, LIBSSH2_SESSION_BLOCK_OUTBOUND, Listener, Session, Sftp,
  SftpHandle, SftpNoSuchFileError,
} from '../lib';
import { CHANNEL_NB_METHODS } from '../lib/channel';
import { SESSION_NB_METHODS } from '../lib/session';
import { SFTP_HANDLE_NB_METHODS, SFTP_NB_METHODS } from '../lib/sftp';
import { LISTENER_NB_METHODS } from '../lib/listener';
import { PUBLICKEY_NB_METHODS } from '../lib/publickey';
import { startPublickeyServer } from './fixtures/publickey-server';
import { fixture } from './fixtures';
import { tcp } from './helpers/connect';
import { sshEd25519ToPkcs8 } from './helpers/keys';

const f = fixture();
const EAGAIN = LIBSSH2_ERROR_EAGAIN;
jest.setTimeout(60000);

/** "Class.method" of every Nb call that returned EAGAIN at least once. */
const sawEagain = new Set<string>();

/**
 * The C idiom: repeat `call` (identical arguments) while it returns EAGAIN, waiting on the socket
 * in between. Bounded: every wait has a timeout, and the attempts are counted.
 */
async function nb<T>(s: Session, name: string, call: () => T | typeof EAGAIN, attempts = 20000): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const r = call();
    if (r !== EAGAIN) return r;
    sawEagain.add(name);
    await s.waitSocket(10000);
  }
  throw new Error(`${name}: still EAGAIN after ${attempts} attempts (blockDirections ${s.blockDirections()})`);
}

interface Proxy { port: number; pause(): void; resume(): void; close(): Promise<void> }

/**
 * A loopback proxy to the fixture that delays what the server sends by `delayMs` (so a reply
 * can never arrive within the call that sent its request: every request/reply call returns
 * EAGAIN first, deterministically), and whose client→server direction can be stopped.
 */
async function slowProxy(delayMs: number): Promise<Proxy> {
  const clients = new Set<net.Socket>();
  const upstreams = new Set<net.Socket>();
  let paused = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(f.port, f.host);
    clients.add(client);
    upstreams.add(upstream);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    if (paused) client.pause();
    client.on('data', (chunk) => upstream.write(chunk));
    client.on('end', () => upstream.end());
    upstream.on('data', (chunk) => setTimeout(() => client.write(chunk), delayMs));
    upstream.on('end', () => setTimeout(() => client.end(), delayMs));
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    // Stops reading from the clients: their kernel buffers fill, then their sends block.
    pause: () => { paused = true; for (const c of clients) c.pause(); },
    resume: () => { paused = false; for (const c of clients) c.resume(); },
    close: () => new Promise<void>((r) => {
      for (const c of clients) c.destroy();
      for (const u of upstreams) u.destroy();
      server.close(() => r());
    }),
  };
}

let lag: Proxy;
beforeAll(async () => { lag = await slowProxy(3); });
afterAll(() => lag.close());

/** A non-blocking session through `proxy`, handshaken and authenticated with the C idiom. */
async function nbSession(proxy = lag): Promise<Session> {
  const s = new Session();
  s.setBlocking(false);
  const sock = await tcp(f.host, proxy.port);
  await nb(s, 'Session.handshake', () => s.handshakeNb(sock));
  await nb(s, 'Session.userauthPublickeyFromfile', () => s.userauthPublickeyFromfileNb(f.user, f.keys.ed25519.private));
  expect(s.userauthAuthenticated()).toBe(true);
  return s;
}

async function nbExec(s: Session, command: string): Promise<Channel> {
  const ch = await nb(s, 'Session.openSession', () => s.openSessionNb());
  await nb(s, 'Channel.exec', () => ch.execNb(command));
  return ch;
}

/** Reads a stream to EOF with readNb. */
async function readAll(s: Session, ch: Channel, streamId = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < 100000; i++) {
    const b = await nb(s, streamId === 0 ? 'Channel.read' : 'Channel.readStderr',
      () => (streamId === 0 ? ch.readNb(65536) : ch.readStderrNb(65536)));
    if (b.length === 0) return Buffer.concat(parts);
    parts.push(b);
  }
  throw new Error('readAll: too many reads');
}

async function closeAndFree(s: Session, ch: Channel): Promise<void> {
  await nb(s, 'Channel.close', () => ch.closeNb());
  await nb(s, 'Channel.free', () => ch.freeNb());
}

async function endSession(s: Session): Promise<void> {
  await nb(s, 'Session.disconnect', () => s.disconnectNb('bye'));
  await nb(s, 'Session.free', () => s.freeNb());
}

/**
 * Fills the socket: with the proxy paused, writes on `channels` (each `cat > /dev/null`) until
 * one write returns EAGAIN holding a half-sent packet. Returns that write's repeat.
 */
async function stuff(s: Session, proxy: Proxy, channels: Channel[]): Promise<() => number> {
  proxy.pause();
  const chunk = Buffer.alloc(32000, 0x61);
  const windowless = new Set<Channel>();
  for (let i = 0; i < 100000 && windowless.size < channels.length; i++) {
    for (const ch of channels) {
      if (windowless.has(ch)) continue;
      const r = ch.writeNb(chunk);
      if (r !== EAGAIN) continue;
      if (s.blockDirections() & LIBSSH2_SESSION_BLOCK_OUTBOUND) return () => ch.writeNb(chunk);
      windowless.add(ch); // the server's window is used up: try the next channel
    }
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('could not fill the socket');
}

describe('modes', () => {
  it('async mode: …Nb() throws BadUseError; non-blocking mode: async methods reject', async () => {
    const s = new Session();
    const sock = await tcp(f.host, lag.port);
    expect(() => s.handshakeNb(sock)).toThrow(BadUseError);
    await s.handshake(sock);
    await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
    s.setBlocking(false);
    expect(s.getBlocking()).toBe(false);
    await expect(s.openSession()).rejects.toBeInstanceOf(BadUseError);
    await expect(s.exec('true')).rejects.toBeInstanceOf(BadUseError);
    // Mode changes only while nothing is pending.
    const ch = await nb(s, 'Session.openSession', () => s.openSessionNb());
    expect(ch.execNb('sleep 1')).toBe(EAGAIN); // pending
    expect(() => s.setBlocking(true)).toThrow(BadUseError);
    await nb(s, 'Channel.exec', () => ch.execNb('sleep 1'));
    s.setBlocking(true);
    expect(() => ch.readNb()).toThrow(BadUseError);
    expect((await ch.read()).length).toBe(0); // sleep prints nothing; EOF
    await ch.close();
    expect(ch.getExitStatus()).toBe(0);
    // Teardown works async in both modes.
    s.setBlocking(false);
    await ch.free();
    await s.close();
  });

  it('handshakeNb on a connecting socket is refused, not waited for', async () => {
    const s = new Session();
    s.setBlocking(false);
    const sock = net.connect(f.port, f.host);
    expect(() => s.handshakeNb(sock)).toThrow(BadUseError);
    sock.destroy();
    await s.free();
  });

  it('waitSocket: a timeout resolves false; a closed session rejects; bad arguments throw', async () => {
    const s = await nbSession();
    const ch = await nbExec(s, 'sleep 5');
    const t0 = Date.now();
    let timedOut = false;
    for (let i = 0; i < 10 && !timedOut; i++) { // a stray packet may wake one wait
      expect(ch.readNb()).toBe(EAGAIN);
      expect(s.blockDirections() & LIBSSH2_SESSION_BLOCK_INBOUND).toBeTruthy();
      timedOut = !(await s.waitSocket(200));
    }
    expect(timedOut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(4000); // long before `sleep 5` ends
    await expect(s.waitSocket(-1)).rejects.toBeInstanceOf(RangeError);
    await s.free();
    await expect(s.waitSocket(10)).rejects.toBeInstanceOf(BadUseError);
    const fresh = new Session();
    await expect(fresh.waitSocket(10)).rejects.toBeInstanceOf(BadUseError);
    await fresh.free();
  });
});

describe('the C idiom', () => {
  it('exec: stdout, stderr, exit status, EOF, close, free (ssh2_exec.c)', async () => {
    const s = await nbSession();
    const ch = await nb(s, 'Session.openSession', () => s.openSessionNb());
    await nb(s, 'Channel.setenv', () => ch.setenvNb('LC_ALL', 'C')).catch(() => undefined); // AcceptEnv may refuse
    // stdout and stderr close early, the process ends later: EOF and CLOSE arrive apart.
    await nb(s, 'Channel.processStartup', () => ch.processStartupNb('exec',
      'sleep 0.2; head -c 300000 /dev/zero | tr "\\0" x; echo err >&2; exec >&- 2>&-; sleep 0.3; exit 3'));
    expect(ch.readStderrNb(65536)).toBe(EAGAIN); // nothing yet
    sawEagain.add('Channel.readStderr');
    const out = await readAll(s, ch);
    expect(out.length).toBe(300000);
    expect(out.every((b) => b === 0x78)).toBe(true);
    expect((await readAll(s, ch, 1)).toString()).toBe('err\n');
    await nb(s, 'Channel.waitEof', () => ch.waitEofNb());
    expect(ch.eof()).toBe(true);
    await nb(s, 'Channel.waitClosed', () => ch.waitClosedNb()); // the peer closes after `sleep 0.3`
    await nb(s, 'Channel.close', () => ch.closeNb());
    expect(ch.closed).toBe(true);
    expect(() => ch.writeNb('x')).toThrow(BadUseError);
    expect(ch.getExitStatus()).toBe(3);
    expect(ch.closeNb()).toBe(0); // idempotent
    await nb(s, 'Channel.free', () => ch.freeNb());
    expect(ch.freeNb()).toBe(0);
    await endSession(s);
    expect(s.freeNb()).toBe(0);
  });

  it('readIntoNb, writeNb partial counts, sendEofNb: an echo through cat (ssh2_echo.c)', async () => {
    const s = await nbSession();
    const ch = await nbExec(s, 'cat');
    const data = crypto.randomBytes(1 << 20);
    const got: Buffer[] = [];
    const buf = Buffer.alloc(50000);
    let sent = 0;
    let eofSent = false;
    let total = 0;
    for (let i = 0; i < 200000 && total < data.length; i++) {
      let progressed = false;
      if (sent < data.length) {
        const n = ch.writeNb(data.subarray(sent, sent + 100000));
        if (n === EAGAIN) sawEagain.add('Channel.write');
        else { expect(n).toBeGreaterThan(0); expect(n).toBeLessThanOrEqual(100000); sent += n; progressed = true; }
      } else if (!eofSent) {
        const r = ch.sendEofNb();
        if (r === EAGAIN) sawEagain.add('Channel.sendEof');
        else { eofSent = true; progressed = true; }
      }
      const n = ch.readIntoNb(buf);
      if (n === EAGAIN) sawEagain.add('Channel.readInto');
      else if (n > 0) { got.push(Buffer.from(buf.subarray(0, n))); total += n; progressed = true; }
      if (!progressed) await s.waitSocket(10000);
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
    if (!eofSent) await nb(s, 'Channel.sendEof', () => ch.sendEofNb());
    expect(await readAll(s, ch)).toHaveLength(0);
    await closeAndFree(s, ch);
    await endSession(s);
  });

  it('pty, window and extended-data requests; signals', async () => {
    const s = await nbSession();
    const ch = await nb(s, 'Session.openSession', () => s.openSessionNb());
    await nb(s, 'Channel.requestPty', () => ch.requestPtyNb('xterm', undefined, 100, 30));
    await nb(s, 'Channel.handleExtendedData', () => ch.handleExtendedDataNb(0));
    await nb(s, 'Channel.shell', () => ch.shellNb());
    await nb(s, 'Channel.requestPtySize', () => ch.requestPtySizeNb(120, 40));
    const window = await nb(s, 'Channel.receiveWindowAdjust', () => ch.receiveWindowAdjustNb(100000, true));
    expect(window).toBeGreaterThan(0);
    await nb(s, 'Channel.write', () => ch.writeNb('stty size; exit 7\n'));
    let text = '';
    for (let i = 0; i < 1000 && !text.includes('40 120'); i++) text += (await nb(s, 'Channel.read', () => ch.readNb())).toString();
    expect(text).toContain('40 120');
    await nb(s, 'Channel.flush', () => ch.flushNb());
    await readAll(s, ch);
    await closeAndFree(s, ch);
    // signal: the server gets it (OpenSSH 9.2 acts on it only with a pty-less session; the
    // request itself must go through without error).
    const sleeper = await nbExec(s, 'sleep 30');
    await nb(s, 'Channel.signal', () => sleeper.signalNb('TERM'));
    await closeAndFree(s, sleeper);
    await endSession(s);
  });

  it('subsystem, x11 and agent requests: the fixture answers, the error is typed', async () => {
    const s = await nbSession();
    const ch = await nb(s, 'Session.openSession', () => s.openSessionNb());
    // X11Forwarding and AllowAgentForwarding are on: both requests succeed.
    await nb(s, 'Channel.x11Req', () => ch.x11ReqNb(0));
    await nb(s, 'Channel.requestAuthAgent', () => ch.requestAuthAgentNb());
    await nb(s, 'Channel.subsystem', () => ch.subsystemNb(f.netconfSubsystem));
    let hello = '';
    for (let i = 0; i < 1000 && !hello.includes(f.netconfHello.trim()); i++) hello += (await nb(s, 'Channel.read', () => ch.readNb())).toString();
    expect(hello).toContain(f.netconfHello.trim());
    await closeAndFree(s, ch);
    await endSession(s);
  });

  it('userauth: list, frommemory, a sign callback (sync), keepalive', async () => {
    const s = new Session();
    s.setBlocking(false);
    const sock1 = await tcp(f.host, lag.port);
    await nb(s, 'Session.handshake', () => s.handshakeNb(sock1));
    const methods = await nb(s, 'Session.userauthList', () => s.userauthListNb(f.user));
    expect(methods).toContain('publickey');
    const pem = fs.readFileSync(f.keys.ed25519.private, 'utf8');
    const pub = fs.readFileSync(f.keys.ed25519.public, 'utf8').split(' ');
    const blob = Buffer.from(pub[1], 'base64');
    const key = crypto.createPrivateKey({ key: sshEd25519ToPkcs8(pem), format: 'der', type: 'pkcs8' });
    // A Promise from the signer: the call returns EAGAIN until it settles (waitSocket wakes).
    let calls = 0;
    const sign = async (data: Buffer) => { calls++; await new Promise((r) => setTimeout(r, 20)); return crypto.sign(null, data, key); };
    await nb(s, 'Session.userauthPublickey', () => s.userauthPublickeyNb(f.user, blob, sign));
    expect(calls).toBe(1);
    expect(s.userauthAuthenticated()).toBe(true);
    s.keepaliveConfig(false, 5);
    expect(await nb(s, 'Session.keepaliveSend', () => s.keepaliveSendNb())).toBeGreaterThan(0);
    await endSession(s);

    const t = new Session();
    t.setBlocking(false);
    const sock2 = await tcp(f.host, lag.port);
    await nb(t, 'Session.handshake', () => t.handshakeNb(sock2));
    await nb(t, 'Session.userauthPublickeyFrommemory', () => t.userauthPublickeyFrommemoryNb(f.user, pem));
    expect(t.userauthAuthenticated()).toBe(true);
    await endSession(t);
  });

  (f.password ? it : it.skip)('userauth: password, keyboard-interactive (sync responder), hostbased (root fixture)', async () => {
    const s = new Session();
    s.setBlocking(false);
    const sock1 = await tcp(f.host, lag.port);
    await nb(s, 'Session.handshake', () => s.handshakeNb(sock1));
    await nb(s, 'Session.userauthPassword', () => s.userauthPasswordNb(f.user, f.password!));
    expect(s.userauthAuthenticated()).toBe(true);
    await endSession(s);
    if (f.kbdInteractive) {
      const k = new Session();
      k.setBlocking(false);
      const sock3 = await tcp(f.host, lag.port);
      await nb(k, 'Session.handshake', () => k.handshakeNb(sock3));
      const responder = (_n: string, _i: string, prompts: { text: string }[]) => prompts.map(() => f.password!);
      await nb(k, 'Session.userauthKeyboardInteractive', () => k.userauthKeyboardInteractiveNb(f.user, responder));
      expect(k.userauthAuthenticated()).toBe(true);
      await endSession(k);
    }
    if (f.hostbased) {
      const hb = f.hostbased;
      const h = new Session();
      h.setBlocking(false);
      const sock4 = await tcp(f.host, lag.port);
      await nb(h, 'Session.handshake', () => h.handshakeNb(sock4));
      await nb(h, 'Session.userauthHostbasedFromfile',
        () => h.userauthHostbasedFromfileNb(f.user, hb.private, hb.hostname, undefined, hb.public, hb.localUser));
      expect(h.userauthAuthenticated()).toBe(true);
      await endSession(h);
    }
  });

  it('a keyboard-interactive responder returning a Promise fails clearly in non-blocking mode', async () => {
    if (!f.kbdInteractive) return; // only the root fixture offers keyboard-interactive
    const k = new Session();
    k.setBlocking(false);
    const sock = await tcp(f.host, lag.port);
    await nb(k, 'Session.handshake', () => k.handshakeNb(sock));
    const responder = async () => [f.password!]; // one function: repeats pass the same one
    const err = await nb(k, 'Session.userauthKeyboardInteractive',
      () => k.userauthKeyboardInteractiveNb(f.user, responder)).catch((e) => e);
    expect(err.name).toBe('TypeError');
    expect(String(err.message)).toMatch(/synchronously/);
    await k.free();
  });
});

describe('closing calls work async in non-blocking mode (DESIGN.md "Modes")', () => {
  it('channel.close(), handle.close(), listener.forwardCancel(), sftp.shutdown(), even with an Nb call pending', async () => {
    const s = await nbSession();
    const ch = await nbExec(s, 'echo hi');
    await readAll(s, ch);
    await ch.close();
    expect(ch.getExitStatus()).toBe(0);
    await ch.free();
    const listener = await nb(s, 'Session.forwardListen', () => s.forwardListenNb(0, '127.0.0.1'));
    await listener.forwardCancel();
    const sftp = await nb(s, 'Session.sftpInit', () => s.sftpInitNb());
    const h = await nb(s, 'Sftp.opendir', () => sftp.opendirNb('/'));
    // A stat left mid-EAGAIN on the same SFTP object goes first; then the handle closes.
    expect(sftp.statNb('/')).toBe(EAGAIN);
    await h.close();
    expect(h.closeNb()).toBe(0);
    await sftp.shutdown();
    await s.close();
  });
});

describe('forwarding and SCP', () => {
  it('directTcpip, forwardListen/forwardAccept/forwardCancel, directStreamlocal', async () => {
    const s = await nbSession();
    // remote forward: the server listens, a connection through a direct-tcpip channel of the
    // same session arrives at forwardAccept.
    const listener: Listener = await nb(s, 'Session.forwardListen', () => s.forwardListenNb(0, '127.0.0.1'));
    expect(listener.boundPort).toBeGreaterThan(0);
    expect(listener.forwardAcceptNb()).toBe(EAGAIN); // nothing connected yet
    sawEagain.add('Listener.forwardAccept');
    const out = await nb(s, 'Session.directTcpip', () => s.directTcpipNb('127.0.0.1', listener.boundPort));
    const inbound = await nb(s, 'Listener.forwardAccept', () => listener.forwardAcceptNb());
    await nb(s, 'Channel.write', () => out.writeNb('ping'));
    expect((await nb(s, 'Channel.read', () => inbound.readNb())).toString()).toBe('ping');
    await closeAndFree(s, out);
    await closeAndFree(s, inbound);
    await nb(s, 'Listener.forwardCancel', () => listener.forwardCancelNb());
    expect(listener.forwardCancelNb()).toBe(0);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-nb-'));
    fs.chmodSync(dir, 0o755);
    const sockPath = path.join(dir, 'echo.sock');
    const server = net.createServer((c) => c.pipe(c));
    await new Promise<void>((r) => server.listen(sockPath, r));
    fs.chmodSync(sockPath, 0o777);
    try {
      const ch = await nb(s, 'Session.directStreamlocal', () => s.directStreamlocalNb(sockPath));
      await nb(s, 'Channel.write', () => ch.writeNb('echo'));
      expect((await nb(s, 'Channel.read', () => ch.readNb())).toString()).toBe('echo');
      await closeAndFree(s, ch);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await endSession(s);
  });

  it('scpSend64 then scpRecv2 of the same bytes (scp_write_nonblock.c, scp_nonblock.c)', async () => {
    const s = await nbSession();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-nb-scp-'));
    fs.chmodSync(dir, 0o777);
    const remote = path.join(dir, 'f.bin');
    const data = crypto.randomBytes(200001);
    try {
      const up = await nb(s, 'Session.scpSend64', () => s.scpSend64Nb(remote, 0o640, data.length));
      for (let off = 0; off < data.length;) off += await nb(s, 'Channel.write', () => up.writeNb(data.subarray(off)));
      await nb(s, 'Channel.sendEof', () => up.sendEofNb());
      await nb(s, 'Channel.waitEof', () => up.waitEofNb());
      await closeAndFree(s, up);
      expect(fs.readFileSync(remote).equals(data)).toBe(true);
      const { channel, stat } = await nb(s, 'Session.scpRecv2', () => s.scpRecv2Nb(remote));
      expect(stat.size).toBe(data.length);
      const got: Buffer[] = [];
      for (let n = 0; n < data.length;) {
        const b = await nb(s, 'Channel.read', () => channel.readNb(Math.min(65536, data.length - n)));
        got.push(b);
        n += b.length;
      }
      expect(Buffer.concat(got).equals(data)).toBe(true);
      await closeAndFree(s, channel);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await endSession(s);
  });
});

describe('SFTP', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-nb-sftp-'));
    fs.chmodSync(dir, 0o777);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every Sftp and SftpHandle call (sftp_nonblock.c, sftp_write_nonblock.c, sftpdir_nonblock.c)', async () => {
    const s = await nbSession();
    const sftp: Sftp = await nb(s, 'Session.sftpInit', () => s.sftpInitNb());
    const file = `${dir}/a.bin`;
    const data = crypto.randomBytes(1000003);
    const h: SftpHandle = await nb(s, 'Sftp.open', () => sftp.openNb(file, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, 0o644));
    // writeNb: libssh2 acknowledges part of the buffer per call; continue at buf + returned.
    for (let off = 0, i = 0; off < data.length && i < 100000; i++) {
      const chunk = data.subarray(off, off + 200000);
      off += await nb(s, 'SftpHandle.write', () => h.writeNb(chunk));
    }
    await nb(s, 'SftpHandle.fsync', () => h.fsyncNb());
    const st = await nb(s, 'SftpHandle.fstat', () => h.fstatNb());
    expect(st.filesize).toBe(data.length);
    await nb(s, 'SftpHandle.fsetstat', () => h.fsetstatNb({ permissions: 0o600 }));
    const vfs = await nb(s, 'SftpHandle.fstatvfs', () => h.fstatvfsNb());
    expect(vfs.f_bsize).toBeGreaterThan(0);
    await nb(s, 'SftpHandle.close', () => h.closeNb());
    expect(h.closeNb()).toBe(0);
    expect(fs.readFileSync(file).equals(data)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    const r = await nb(s, 'Sftp.open', () => sftp.openNb(file, LIBSSH2_FXF_READ, 0));
    const parts: Buffer[] = [];
    for (let i = 0; i < 100000; i++) {
      const b = await nb(s, 'SftpHandle.read', () => r.readNb(120000));
      if (b.length === 0) break;
      parts.push(b);
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    r.rewind();
    const into = Buffer.alloc(1000);
    expect(await nb(s, 'SftpHandle.readInto', () => r.readIntoNb(into))).toBe(1000);
    expect(into.equals(data.subarray(0, 1000))).toBe(true);
    await nb(s, 'SftpHandle.close', () => r.closeNb());

    await nb(s, 'Sftp.mkdir', () => sftp.mkdirNb(`${dir}/sub`, 0o755));
    await nb(s, 'Sftp.symlink', () => sftp.symlinkNb(file, `${dir}/link`));
    expect(await nb(s, 'Sftp.readlink', () => sftp.readlinkNb(`${dir}/link`))).toBe(file);
    expect(await nb(s, 'Sftp.realpath', () => sftp.realpathNb(`${dir}/sub/..`))).toBe(fs.realpathSync(dir));
    expect((await nb(s, 'Sftp.lstat', () => sftp.lstatNb(`${dir}/link`))).isSymbolicLink()).toBe(true);
    expect((await nb(s, 'Sftp.stat', () => sftp.statNb(`${dir}/link`))).filesize).toBe(data.length);
    await nb(s, 'Sftp.setstat', () => sftp.setstatNb(file, { permissions: 0o644 }));
    expect((await nb(s, 'Sftp.statvfs', () => sftp.statvfsNb(dir))).f_bsize).toBeGreaterThan(0);
    await nb(s, 'Sftp.rename', () => sftp.renameNb(file, `${dir}/b.bin`));
    await nb(s, 'Sftp.posixRename', () => sftp.posixRenameNb(`${dir}/b.bin`, `${dir}/c.bin`));
    const d = await nb(s, 'Sftp.opendir', () => sftp.opendirNb(dir));
    const names: string[] = [];
    for (let i = 0; i < 100; i++) {
      const e = await nb(s, 'SftpHandle.readdir', () => d.readdirNb());
      if (!e) break;
      names.push(e[0]);
    }
    expect(names.sort()).toEqual(['.', '..', 'c.bin', 'link', 'sub']);
    await nb(s, 'SftpHandle.close', () => d.closeNb());
    const missing = await nb(s, 'Sftp.stat', () => sftp.statNb(`${dir}/missing`)).catch((e) => e);
    expect(missing).toBeInstanceOf(SftpNoSuchFileError);
    await nb(s, 'Sftp.unlink', () => sftp.unlinkNb(`${dir}/link`));
    await nb(s, 'Sftp.unlink', () => sftp.unlinkNb(`${dir}/c.bin`));
    await nb(s, 'Sftp.rmdir', () => sftp.rmdirNb(`${dir}/sub`));
    expect(() => sftp.mkdirNb(`${dir}/x`, { recursive: true })).toThrow(BadUseError);
    await nb(s, 'Sftp.shutdown', () => sftp.shutdownNb());
    expect(sftp.shutdownNb()).toBe(0);
    await endSession(s);
  });

  it('a call that returned EAGAIN must be repeated before another call on the same state machine', async () => {
    const s = await nbSession();
    const sftp = await nb(s, 'Session.sftpInit', () => s.sftpInitNb());
    expect(sftp.statNb(dir)).toBe(EAGAIN);
    // Another path, or another call on the same SFTP object: refused, nothing corrupted.
    expect(() => sftp.statNb(`${dir}/other`)).toThrow(BadUseError);
    expect(() => sftp.realpathNb(dir)).toThrow(/repeat that call with identical arguments/);
    // Deep-equal arguments are the same call (a new string with the same value).
    const st = await nb(s, 'Sftp.stat', () => sftp.statNb(`${dir}`));
    expect(st.isDirectory()).toBe(true);
    // Channel setup requests share one state machine per session (PITFALLS 5).
    const a = await nb(s, 'Session.openSession', () => s.openSessionNb());
    const b = await nb(s, 'Session.openSession', () => s.openSessionNb());
    expect(a.execNb('echo a')).toBe(EAGAIN);
    expect(() => b.execNb('echo b')).toThrow(BadUseError);
    await nb(s, 'Channel.exec', () => a.execNb('echo a'));
    await nb(s, 'Channel.exec', () => b.execNb('echo b'));
    expect((await readAll(s, a)).toString()).toBe('a\n');
    expect((await readAll(s, b)).toString()).toBe('b\n');
    // Reads of different channels interleave freely.
    await closeAndFree(s, a);
    await closeAndFree(s, b);
    await nb(s, 'Sftp.shutdown', () => sftp.shutdownNb());
    await endSession(s);
  });
});

describe('a full socket (half-sent packets, PITFALLS 1)', () => {
  it('calls made while a write holds a half-sent packet return EAGAIN, drive it, then complete', async () => {
    const proxy = await slowProxy(1);
    try {
      const s = await nbSession(proxy);
      const sinks: Channel[] = [];
      for (let i = 0; i < 6; i++) sinks.push(await nbExec(s, 'cat > /dev/null'));
      const probe = await nbExec(s, 'cat > /dev/null');
      const sleeper = await nbExec(s, 'sleep 60');
      const unclosed = await nbExec(s, 'true'); // for free, which closes it first
      // Unread data, for flush and IGNORE: discarding more than 1 KiB refunds the window, which
      // sends an adjust.
      const noisy = await nbExec(s, 'head -c 65536 /dev/zero');
      for (let i = 0; i < 200 && noisy.windowRead().readAvail < 60000; i++) {
        await new Promise((r) => setTimeout(r, 20));
        noisy.readNb(1, 5); // a read of an unused stream id pulls packets in, consumes nothing
      }
      const listener = await nb(s, 'Session.forwardListen', () => s.forwardListenNb(0, '127.0.0.1'));
      const sftp = await nb(s, 'Session.sftpInit', () => s.sftpInitNb());
      const scratch = `${os.tmpdir()}/libssh2-nb-never-${process.pid}`;
      s.keepaliveConfig(false, 3600); // the first keepaliveSend sends, later ones wait an hour
      // Calls that send: with another call's packet half sent, libssh2 answers them EAGAIN.
      const calls: [string, () => unknown][] = [
        ['Session.keepaliveSend', () => s.keepaliveSendNb()],
        ['Channel.signal', () => sleeper.signalNb('TERM')],
        ['Channel.write', () => probe.writeNb('x')],
        ['Channel.writeStderr', () => probe.writeStderrNb('y')],
        ['Channel.requestPtySize', () => probe.requestPtySizeNb(80, 24)],
        ['Channel.receiveWindowAdjust', () => probe.receiveWindowAdjustNb(1000, true)],
        ['Channel.flush', () => noisy.flushNb(0)], // refunds the window: sends an adjust
        ['Sftp.mkdir', () => sftp.mkdirNb(scratch, 0o700)],
        ['Sftp.rmdir', () => sftp.rmdirNb(scratch)],
        ['Channel.free', () => unclosed.freeNb()],
        ['Listener.forwardCancel', () => listener.forwardCancelNb()],
        ['Channel.sendEof', () => probe.sendEofNb()],
        ['Sftp.shutdown', () => sftp.shutdownNb()],
      ];
      for (const [name, call] of calls) {
        const owner = await stuff(s, proxy, sinks);
        expect([name, call()]).toEqual([name, EAGAIN]);
        sawEagain.add(name);
        proxy.resume();
        // Repeated, the call completes once the half-sent write went out (the C loop on this
        // call drives the write first).
        const result = await nb(s, name, call as () => number, 1000000).catch((e) => e);
        expect([name, result instanceof Error ? String(result) : 'ok']).toEqual([name, 'ok']);
        // The write's own repeat then returns its count.
        expect(await nb(s, 'Channel.write', owner)).toBeGreaterThan(0);
      }
      // An async teardown (allowed in non-blocking mode) takes over a half-sent packet.
      await stuff(s, proxy, sinks);
      const freeing = sinks[0].free();
      proxy.resume();
      await freeing;
      // The session's teardown on a full socket.
      await stuff(s, proxy, sinks.slice(1));
      expect(s.disconnectNb('full')).toBe(EAGAIN);
      sawEagain.add('Session.disconnect');
      proxy.resume();
      await nb(s, 'Session.disconnect', () => s.disconnectNb('full'));
      await stuff(s, proxy, sinks.slice(1)).catch(() => undefined); // the server may be gone
      expect(s.freeNb()).toBe(0); // on dead I/O: no traffic, done at once
      proxy.resume();
      expect(s.closed).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});

describe('publickey subsystem (scripted RFC 4819 server on ssh2\'s Server)', () => {
  it('publickeyInitNb, addNb, listNb, removeNb, shutdownNb', async () => {
    const server = await startPublickeyServer();
    try {
      const s = new Session();
      s.setBlocking(false);
      const sock = await tcp(server.host, server.port);
      await nb(s, 'Session.handshake', () => s.handshakeNb(sock));
      await nb(s, 'Session.userauthPassword', () => s.userauthPasswordNb('tester', 'any'));
      const pk = await nb(s, 'Session.publickeyInit', () => s.publickeyInitNb());
      const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), crypto.randomBytes(32)]);
      const attrs = [{ name: 'comment', value: 'nb', mandatory: false }];
      await nb(s, 'PublicKeySubsystem.add', () => pk.addNb('ssh-ed25519', blob, false, attrs));
      expect(await nb(s, 'PublicKeySubsystem.list', () => pk.listNb())).toEqual([{ name: 'ssh-ed25519', blob, attrs }]);
      await nb(s, 'PublicKeySubsystem.remove', () => pk.removeNb('ssh-ed25519', blob));
      expect(await nb(s, 'PublicKeySubsystem.list', () => pk.listNb())).toEqual([]);
      await nb(s, 'PublicKeySubsystem.shutdown', () => pk.shutdownNb());
      expect(pk.shutdownNb()).toBe(0);
      await s.close();
    } finally {
      await server.close();
    }
  });
});

describe('coverage', () => {
  it('every …Nb() method returned EAGAIN at least once in this file', () => {
    // Password, keyboard-interactive and hostbased need the root fixture (PAM, a local user);
    // the security-key method (no …Nb() twin yet: no async form either) would need hardware.
    const needRoot = ['Session.userauthPassword', 'Session.userauthKeyboardInteractive', 'Session.userauthHostbasedFromfile'];
    // freeNb() frees on dead I/O (no network traffic, DESIGN.md "Execution model"): it never
    // has to wait, so it never returns EAGAIN.
    // handleExtendedData() waits only in IGNORE mode (flushing stderr refunds the window),
    // which LIBSSH2-PITFALLS.md item 17 advises against; NORMAL and MERGE only set the mode.
    const neverEagain = ['Session.free', 'Channel.handleExtendedData'];
    const expected = [
      ...SESSION_NB_METHODS.map((m) => `Session.${m}`),
      ...CHANNEL_NB_METHODS.map((m) => `Channel.${m}`),
      ...SFTP_NB_METHODS.map((m) => `Sftp.${m}`),
      ...SFTP_HANDLE_NB_METHODS.map((m) => `SftpHandle.${m}`),
      ...LISTENER_NB_METHODS.map((m) => `Listener.${m}`),
      ...PUBLICKEY_NB_METHODS.map((m) => `PublicKeySubsystem.${m}`),
    ].filter((m) => (f.password || !needRoot.includes(m)) && !neverEagain.includes(m));
    const missing = expected.filter((m) => !sawEagain.has(m));
    expect(missing).toEqual([]);
  });
});
