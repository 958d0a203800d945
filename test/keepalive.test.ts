/**
 * Keepalive: our libssh2 patch (deps/patches/keepalive-replies.patch, PITFALLS 4) and the
 * Node-native layer's timer (`connect({ keepaliveInterval })`) that finds a dead server.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { connect, ConnectionError, SocketTimeoutError, type Session } from '../lib';
import { startSshd, stopSshd, type SshdFixture } from './fixtures';
import { authenticated } from './helpers/connect';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('libssh2_keepalive_send (keepalive-replies patch)', () => {
  it('the reply to a keepalive is not taken by forwardListen for its own', async () => {
    const s = await authenticated();
    s.keepaliveConfig(true, 30);
    expect(await s.keepaliveSend()).toBe(30);
    await sleep(300); // the server's REQUEST_FAILURE is in the socket now
    // Unpatched, forward_listen reads that REQUEST_FAILURE as its reply: RequestDeniedError.
    const l = await s.forwardListen(0);
    expect(l.boundPort).toBeGreaterThan(0);
    await l.forwardCancel();
    await s.close();
  });

  it('keepaliveSend reads what arrived on an idle session (the reply to the previous one)', async () => {
    const s = await authenticated();
    s.keepaliveConfig(true, 30);
    await s.keepaliveSend(); // sent, with want_reply
    await sleep(500);
    expect(s.native.state().recvIdleMs).toBeGreaterThanOrEqual(400); // nothing read it
    expect(await s.keepaliveSend()).toBeGreaterThan(25); // not due: only takes in what arrived
    expect(s.native.state().recvIdleMs).toBeLessThan(300); // unpatched: still >= 500
    // Replies to many keepalives never pile up or confuse a later global request.
    s.keepaliveConfig(true, 2);
    for (let i = 0; i < 3; i++) {
      await s.keepaliveSend();
      await sleep(1100);
    }
    const l = await s.forwardListen(0);
    await l.forwardCancel();
    expect((await s.exec('echo ok')).stdout.toString()).toBe('ok\n');
    await s.close();
  }, 30000);
});

/** Every descendant process of `pid`, from /proc (no child process: under ASan's LD_PRELOAD pgrep hangs). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parent.set(ppid, [...(parent.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const k of parent.get(p) ?? []) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

describe('connect({ keepaliveInterval }) against a server of its own', () => {
  let f2: SshdFixture;
  let dir: string;
  let kh: string;
  beforeAll(async () => {
    f2 = await startSshd();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-keepalive-'));
    kh = path.join(dir, 'known_hosts');
    const pub = fs.readFileSync(f2.hostKeys.ed25519.public, 'utf8').trim().split(/\s+/);
    fs.writeFileSync(kh, `[127.0.0.1]:${f2.port} ${pub[0]} ${pub[1]}\n`);
  }, 120000);
  afterAll(async () => {
    await stopSshd(f2);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const opts = () => ({ host: '127.0.0.1', port: f2.port, username: f2.user, privateKey: f2.keys.ed25519.private, knownHosts: kh });

  it('a live server is never taken for dead; a stopped one is found, pending ops reject, close is emitted', async () => {
    const s: Session = await connect({ ...opts(), keepaliveInterval: 1000, keepaliveCountMax: 1 });
    const closed = new Promise<unknown>((resolve) => s.once('close', resolve));
    await sleep(7000); // idle, well past the 4 s limit: the replies keep it alive
    expect(s.closed).toBe(false);
    expect((await s.exec('echo alive')).stdout.toString()).toBe('alive\n');

    const pending = s.exec('sleep 60').catch((e) => e);
    await sleep(500);
    const stopped = descendants(f2.pid);
    expect(stopped.length).toBeGreaterThan(0);
    for (const pid of stopped) process.kill(pid, 'SIGSTOP');
    const t0 = Date.now();
    try {
      const err = await pending;
      const elapsed = Date.now() - t0;
      expect(err).toBeInstanceOf(SocketTimeoutError);
      expect(err).toBeInstanceOf(ConnectionError);
      expect(elapsed).toBeLessThan(15000); // the limit is 4 s; wide margin for a busy machine
      expect(await closed).toBe(err);
      expect(s.closed).toBe(true);
      expect(s.closeError).toBe(err);
      await expect(s.exec('true')).rejects.toBe(err);
    } finally {
      for (const pid of stopped) {
        try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
      }
    }
    await s.close();
  }, 60000);

  it('the keepalive timer never keeps the process alive', () => {
    const register = path.join(__dirname, '..', 'scripts', 'register-ts.js');
    const lib = path.join(__dirname, '..', 'lib');
    const script = `require(${JSON.stringify(register)});
      const { connect } = require(${JSON.stringify(lib)});
      connect({ ...${JSON.stringify(opts())}, keepaliveInterval: 1000 })
        .then((s) => { globalThis.kept = s; console.log('connected'); }, (e) => { console.log(String(e)); process.exit(3); });
      process.on('exit', () => console.log('exited'));`;
    return new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      // Wide: the child transpiles lib/ first (slow under ASan on a busy machine).
      const killer = setTimeout(() => child.kill('SIGKILL'), 50000);
      child.on('exit', (code, signal) => {
        clearTimeout(killer);
        try {
          expect({ code, signal, out: out.trim().split('\n') }).toEqual({ code: 0, signal: null, out: ['connected', 'exited'] });
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  }, 60000);

  it('a session closed by the peer emits close with the ConnectionError, once', async () => {
    const s = await connect(opts());
    const events: unknown[] = [];
    s.on('close', (e) => events.push(e));
    const r = await s.exec('kill -9 $PPID; sleep 1').catch((e) => e);
    // The server's session process is gone: the connection ends.
    const err = r instanceof Error ? r : await s.exec('true').catch((e) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    await sleep(50);
    expect(events).toEqual([err]);
    await s.close();
    expect(events).toEqual([err]);
    expect(s.listenerCount('error')).toBe(0);
  }, 30000);

  it('close() emits close without an error', async () => {
    const s = await connect(opts());
    const events: unknown[] = [];
    s.on('close', (...a) => events.push(a));
    await s.close();
    await s.close();
    expect(events).toEqual([[]]);
  });
});
