/**
 * Issue 11: one flipped bit in the server-to-client stream, through a proxy to the run's sshd.
 * With chacha20-poly1305@openssh.com, libssh2 1.11.1 took the failed Poly1305 tag for a packet of
 * type 1 and reread the same bytes forever inside one call, leaking a payload per pass
 * (gigabytes); deps/patches/chacha-tag-failure-is-fatal.patch makes it LIBSSH2_ERROR_DECRYPT and
 * ends the session. AES-GCM tags and HMACs must fail just as cleanly.
 */
import {
  ConnectionError, DecryptError, InvalidMacError, LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC,
  LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC, Session,
} from '../../lib';
import { fixture } from '../fixtures';
import { tcp } from '../helpers/connect';
import { checkRss, rssMiB, startFlipProxy, type FlipProxy } from './servers';

const SESSION_TIMEOUT = 15000;

let proxy: FlipProxy;

beforeAll(async () => {
  proxy = await startFlipProxy();
});

afterAll(async () => {
  await proxy.close();
});

async function flipDuringExec(cipher: string, mac?: string) {
  const f = fixture();
  const s = new Session();
  s.setTimeout(SESSION_TIMEOUT);
  s.methodPref(LIBSSH2_METHOD_CRYPT_CS, cipher);
  s.methodPref(LIBSSH2_METHOD_CRYPT_SC, cipher);
  if (mac) {
    s.methodPref(LIBSSH2_METHOD_MAC_CS, mac);
    s.methodPref(LIBSSH2_METHOD_MAC_SC, mac);
  }
  await s.handshake(await tcp('127.0.0.1', proxy.port));
  expect(s.methods(LIBSSH2_METHOD_CRYPT_SC)).toBe(cipher);
  await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
  const ch = await s.openSession();
  const before = rssMiB();
  const flipsBefore = proxy.flipped;
  proxy.flipNext = true; // the server's next bytes (its reply to exec) carry one flipped bit
  const started = Date.now();
  const err = await (async () => {
    await ch.exec('echo flipped; sleep 1; echo again');
    for (;;) if ((await ch.read()).length === 0) break;
  })().then(() => undefined, (e: unknown) => e);
  const ms = Date.now() - started;
  expect(proxy.flipped).toBe(flipsBefore + 1);
  const grew = rssMiB() - before;
  const closed = s.closed;
  const later = await s.openSession().then(() => undefined, (e: unknown) => e);
  await s.close();
  return { err, ms, grew, closed, later };
}

describe('one flipped bit from the server', () => {
  it('chacha20-poly1305: DecryptError, the session ends, no loop, no leak', async () => {
    const r = await flipDuringExec('chacha20-poly1305@openssh.com');
    expect(r.err).toBeInstanceOf(DecryptError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
    expect(r.closed).toBe(true);
    expect(r.later).toBeInstanceOf(ConnectionError);
    if (checkRss) expect(r.grew).toBeLessThan(64);
  });

  it('aes256-gcm: DecryptError, the session ends', async () => {
    const r = await flipDuringExec('aes256-gcm@openssh.com');
    expect(r.err).toBeInstanceOf(DecryptError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
    expect(r.closed).toBe(true);
    expect(r.later).toBeInstanceOf(ConnectionError);
    if (checkRss) expect(r.grew).toBeLessThan(64);
  });

  it('aes128-ctr + hmac-sha2-256: InvalidMacError, the session ends', async () => {
    const r = await flipDuringExec('aes128-ctr', 'hmac-sha2-256');
    expect(r.err).toBeInstanceOf(InvalidMacError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
    expect(r.closed).toBe(true);
    expect(r.later).toBeInstanceOf(ConnectionError);
  });

  it('aes128-ctr + hmac-sha2-256-etm: InvalidMacError, the session ends', async () => {
    const r = await flipDuringExec('aes128-ctr', 'hmac-sha2-256-etm@openssh.com');
    expect(r.err).toBeInstanceOf(InvalidMacError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
    expect(r.closed).toBe(true);
    expect(r.later).toBeInstanceOf(ConnectionError);
  });
});
