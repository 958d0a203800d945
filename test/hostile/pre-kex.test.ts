/**
 * Issue 11: hostile servers before key exchange, as raw TCP servers. Each must end the handshake
 * with a typed error well within the session timeout: no hang, no crash. The pre-banner cases
 * depend on deps/patches/banner-line-limit.patch (libssh2 1.11.1 read endless lines forever).
 */
import * as crypto from 'node:crypto';
import type * as net from 'node:net';
import {
  BannerRecvError, ConnectionError, KexFailureError, Libssh2Error, OutOfBoundaryError, Session,
  SocketDisconnectError, SocketRecvError, TimeoutError,
} from '../../lib';
import { tcp } from '../helpers/connect';
import { kexinit, plainPacket, rawServer, writeEndlessly } from './servers';

/** The session timeout of these tests: a hostile server must fail the handshake well before it. */
const SESSION_TIMEOUT = 8000;
const BANNER = 'SSH-2.0-OpenSSH_9.6\r\n';

/** Runs a handshake against a server that does `behave` with each connection. */
async function handshakeAgainst(behave: (sock: net.Socket) => void, timeout = SESSION_TIMEOUT) {
  const srv = await rawServer(behave);
  const s = new Session();
  s.setTimeout(timeout);
  const started = Date.now();
  try {
    const err = await s.handshake(await tcp('127.0.0.1', srv.port)).then(() => undefined, (e: unknown) => e);
    return { err: err as Libssh2Error | undefined, ms: Date.now() - started, closed: s.closed };
  } finally {
    await s.free();
    await srv.close();
  }
}

describe('hostile server before key exchange', () => {
  it('an endless version line (no newline) fails with BannerRecvError', async () => {
    const r = await handshakeAgainst((c) => {
      c.write('SSH-2.0-');
      const chunk = Buffer.alloc(16384, 0x41);
      writeEndlessly(c, () => chunk);
    });
    expect(r.err).toBeInstanceOf(BannerRecvError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
    expect(r.closed).toBe(true);
  });

  it('an oversized version line (10000 bytes, then a newline) fails with BannerRecvError', async () => {
    const r = await handshakeAgainst((c) => {
      c.write(`SSH-2.0-${'x'.repeat(10000)}\r\n`);
    });
    expect(r.err).toBeInstanceOf(BannerRecvError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
  });

  it('endless lines before the banner fail with BannerRecvError after 1024 lines', async () => {
    let lines = 0;
    const r = await handshakeAgainst((c) => {
      writeEndlessly(c, () => { lines++; return Buffer.from(`pre-banner line ${lines}\r\n`); });
    });
    expect(r.err).toBeInstanceOf(BannerRecvError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
  });

  it('endless empty lines before the banner fail with BannerRecvError', async () => {
    const r = await handshakeAgainst((c) => {
      const chunk = Buffer.from('\r\n'.repeat(4096));
      writeEndlessly(c, () => chunk);
    });
    expect(r.err).toBeInstanceOf(BannerRecvError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
  });

  it('1000 lines before the banner are still accepted (the cap is 1024, as OpenSSH)', async () => {
    const r = await handshakeAgainst((c) => {
      c.write('pre-banner line\r\n'.repeat(1000) + BANNER);
      c.once('data', () => c.destroy());
    });
    // The banner was taken: the failure comes later, from the key exchange reading a closed socket.
    expect(r.err).toBeInstanceOf(ConnectionError);
    expect(r.err).not.toBeInstanceOf(BannerRecvError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
  });

  it('binary garbage instead of a banner fails with BannerRecvError', async () => {
    const r = await handshakeAgainst((c) => {
      writeEndlessly(c, () => crypto.randomBytes(4096));
    });
    expect(r.err).toBeInstanceOf(BannerRecvError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
  });

  it('an HTTP server instead of an SSH server: SocketDisconnectError once it hangs up', async () => {
    const r = await handshakeAgainst((c) => {
      c.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    expect(r.err).toBeInstanceOf(SocketDisconnectError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
  });

  it('a 4 GiB packet length after the banner fails with OutOfBoundaryError', async () => {
    const r = await handshakeAgainst((c) => {
      c.write(BANNER);
      c.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x04]));
      const chunk = Buffer.alloc(16384, 0);
      writeEndlessly(c, () => chunk);
    });
    expect(r.err).toBeInstanceOf(OutOfBoundaryError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
    expect(r.closed).toBe(true);
  });

  it('a KEXINIT with no algorithm in common fails with KexFailureError', async () => {
    const r = await handshakeAgainst((c) => {
      c.write(BANNER);
      c.write(plainPacket(kexinit({
        kex: 'sntrup4591761x25519-sha512@example.com,diffie-hellman-group99-sha3',
        hostkey: 'ssh-quantum@example.com',
        cipher: 'rot13-ctr@example.com',
        mac: 'crc32@example.com',
      })));
    });
    expect(r.err).toBeInstanceOf(KexFailureError);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
  });

  it('silence: TimeoutError at the session timeout, and the session is closed', async () => {
    const r = await handshakeAgainst(() => undefined, 1500);
    expect(r.err).toBeInstanceOf(TimeoutError);
    expect(r.ms).toBeGreaterThanOrEqual(1400);
    expect(r.ms).toBeLessThan(6000);
    expect(r.closed).toBe(true);
  });

  it('an immediate close fails with SocketDisconnectError (or SocketRecvError on a reset)', async () => {
    const r = await handshakeAgainst((c) => c.destroy());
    expect(r.err).toBeInstanceOf(ConnectionError);
    expect([SocketDisconnectError, SocketRecvError]).toContain(r.err?.constructor);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
  });

  it('an immediate close after the banner fails with SocketDisconnectError (or SocketRecvError)', async () => {
    const r = await handshakeAgainst((c) => c.end(BANNER));
    expect(r.err).toBeInstanceOf(ConnectionError);
    expect([SocketDisconnectError, SocketRecvError]).toContain(r.err?.constructor);
    expect(r.ms).toBeLessThan(SESSION_TIMEOUT);
  });
});
