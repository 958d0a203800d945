/**
 * Scheduler fixes found by fault injection (issue 11), each shown against the real sshd:
 * 1. an op rejected by a JS callback inside its own step (main thread) is cancelled, not deleted
 *    under the stepping code (ASan: heap-use-after-free before the fix);
 * 2. a connection lost during userauth closes the session at once with a ConnectionError (1.11.1
 *    reported PUBLICKEY_UNVERIFIED, "Waiting for USERAUTH response": our libssh2 patch
 *    userauth-transport-errors passes the transport's code through, and the scheduler turns any
 *    failure after the peer is gone into a SocketDisconnectError);
 * 3. LIBSSH2_ERROR_OUT_OF_BOUNDARY (garbage from the peer) closes the session;
 * 4. a userauth call on an authenticated session rejects at once with BadUseError (sshd would
 *    ignore it: it waited for the timeout, which closed the session); userauthList() resolves null.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import {
  BadUseError, ConnectionError, Libssh2Error, OutOfBoundaryError, Session, SocketDisconnectError, SocketRecvError,
  SocketTimeoutError,
} from '../../lib';
import { fixture } from '../fixtures';
import { connectTo, fdCount, type FaultProxy, killTracked, releaseSignalled, signalSshd, startFaultProxy, trackServed } from './proxy';

let proxy: FaultProxy | undefined;
const sessions: Session[] = [];

afterEach(async () => {
  releaseSignalled();
  for (const s of sessions.splice(0)) await s.free().catch(() => undefined);
  await proxy?.close();
  proxy = undefined;
  killTracked(); // what sshd started for a faulted connection (sleep 30 below) dies with the test
});

async function viaProxy(): Promise<{ s: Session; clientPort: number }> {
  proxy = await startFaultProxy();
  const s = new Session();
  sessions.push(s);
  s.setTimeout(3000);
  await s.handshake(await connectTo(proxy.port));
  return { s, clientPort: proxy.connections[0].upstream.localPort! };
}

async function settle(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = Date.now();
  const err = await p.then(() => undefined, (e: unknown) => e);
  return { err, ms: Date.now() - t0 };
}

describe('1: an op rejected from inside its own step', () => {
  it('a sign callback that closes the session: the auth rejects with that error, nothing freed under the step', async () => {
    const f = fixture();
    const before = fdCount();
    const s = new Session();
    sessions.push(s);
    await s.handshake(await connectTo(f.port, f.host));
    const blob = Buffer.from(fs.readFileSync(f.keys.ed25519.public, 'utf8').split(' ')[1], 'base64');
    const closedBy = new SocketTimeoutError('dead peer (test)', 'libssh2_keepalive_send');
    const native = (s as unknown as { native: { fail(e: unknown): void } }).native;
    let calls = 0;
    const authP = settle(s.userauthPublickey(f.user, blob, () => {
      calls++;
      native.fail(closedBy); // Scheduler::Fail → RejectAll while this op's step is on the stack
      return crypto.randomBytes(64); // the step goes on using its op after the callback
    }));
    const other = s.userauthList(f.user); // queued behind the auth on the session gate
    const { err } = await authP;
    expect(calls).toBe(1);
    expect(err).toBe(closedBy);
    expect((await settle(other)).err).toBe(closedBy);
    expect(s.closed).toBe(true);
    expect(s.closeError).toBe(closedBy);
    await s.free();
    sessions.length = 0;
    const until = Date.now() + 5000;
    while (fdCount() > before && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(fdCount()).toBeLessThanOrEqual(before);
  });
});

describe('2: connection lost during userauth', () => {
  it.each(['cut', 'kill'] as const)('%s: a ConnectionError at once, session closed, later ops reject at once', async (fault) => {
    const f = fixture();
    const { s, clientPort } = await viaProxy();
    const closeEvent = new Promise<unknown>((r) => s.once('close', r));
    const auth = settle(s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private));
    if (fault === 'cut') proxy!.cut();
    else signalSshd(clientPort, 'SIGKILL');
    const { err, ms } = await auth;
    // SocketRecvError (EOF/ECONNRESET from the read, passed through by libssh2), or the
    // scheduler's SocketDisconnectError when libssh2 turned it into another code.
    expect(err instanceof SocketRecvError || err instanceof SocketDisconnectError).toBe(true);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(ms).toBeLessThan(2500); // not the 3 s timeout: at once
    expect(s.closed).toBe(true);
    expect(s.closeError).toBe(err);
    expect(await closeEvent).toBe(err);
    const later = await settle(s.openSession());
    expect(later.err).toBe(err);
    expect(later.ms).toBeLessThan(1000);
  });
});

describe('3: garbage from the peer', () => {
  it('OUT_OF_BOUNDARY (a bogus packet length) closes the session; every pending op rejects', async () => {
    const f = fixture();
    const { s, clientPort } = await viaProxy();
    await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
    const ch = await s.openSession();
    await ch.exec('sleep 30');
    trackServed(clientPort);
    // 0xff… as the first bytes of the next packet: an encrypted length out of bounds (or a MAC failure).
    proxy!.inject('down', { at: 0, kind: 'insert', bytes: Buffer.alloc(256, 0xff) });
    const read = settle(ch.read());
    const open = settle(s.openSession());
    const [r, o] = await Promise.all([read, open]);
    for (const { err, ms } of [r, o]) {
      expect(err).toBeInstanceOf(Libssh2Error);
      expect(err instanceof OutOfBoundaryError || err instanceof ConnectionError).toBe(true);
      expect(ms).toBeLessThan(2500);
    }
    expect(s.closed).toBe(true);
  });
});

describe('4: userauth on an authenticated session', () => {
  it('a second call queued behind a successful one rejects at once with BadUseError; the session stays usable', async () => {
    const f = fixture();
    const { s } = await viaProxy();
    const first = s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
    const second = settle(s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private));
    const list = settle(s.userauthList(f.user));
    await first;
    const t0 = Date.now();
    const r = await second;
    expect(r.err).toBeInstanceOf(BadUseError);
    expect((r.err as BadUseError).message).toMatch(/already authenticated/);
    expect((await list).err).toBeUndefined();
    expect(await s.userauthList(f.user)).toBeNull();
    const again = await settle(s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private));
    expect(again.err).toBeInstanceOf(BadUseError);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(s.userauthAuthenticated()).toBe(true);
    expect(s.closed).toBe(false);
    const out = await s.exec('echo ok');
    expect(out.stdout.toString()).toBe('ok\n');
  });
});
