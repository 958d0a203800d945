import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Duplex, PassThrough } from 'stream';
import * as v8 from 'v8';
import * as vm from 'vm';
import {
  Session, BadUseError, ConnectionError, TimeoutError, Libssh2Error, MethodNotSupportedError, InvalError,
  LIBSSH2_HOSTKEY_HASH_MD5, LIBSSH2_HOSTKEY_HASH_SHA1, LIBSSH2_HOSTKEY_HASH_SHA256,
  LIBSSH2_METHOD_HOSTKEY, LIBSSH2_METHOD_KEX, LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC,
  LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC, LIBSSH2_METHOD_COMP_CS, LIBSSH2_FLAG_COMPRESS,
  LIBSSH2_TRACE_KEX, LIBSSH2_TRACE_AUTH, LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_ERROR_EAGAIN,
} from '../lib';
import { native } from '../lib/native';
import { fixture, type HostKeyName } from './fixtures';
import { tcp, handshaken } from './helpers/connect';

const f = fixture();

async function auth(s: Session): Promise<void> {
  await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
  expect(s.userauthAuthenticated()).toBe(true);
}

/** A TCP server on loopback whose connections run `onConn`; closed after the test. */
async function rawServer(onConn: (c: net.Socket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.on('error', () => undefined);
    onConn(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => {
      for (const c of conns) c.destroy();
      server.close(() => r());
    }),
  };
}

describe('handshake transports', () => {
  it('a net.Socket connected just now (fd fast path)', async () => {
    const sock = await tcp();
    const s = new Session();
    await s.handshake(sock);
    expect(sock.destroyed).toBe(true); // the JS socket is detached; libssh2 owns a dup
    expect(s.bannerGet()).toBe(f.serverBanner);
    await auth(s);
    await s.close();
  });

  it('a net.Socket connected long before, the banner already buffered (socketpair pump)', async () => {
    const sock = await tcp();
    await new Promise((r) => sock.once('readable', r));
    expect(sock.readableLength).toBeGreaterThan(0);
    const s = new Session();
    await s.handshake(sock);
    await auth(s);
    expect(s.bannerGet()).toBe(f.serverBanner);
    await s.close();
  });

  it('a numeric fd from the native non-blocking connect (IPv4, and IPv6 when the fixture has it)', async () => {
    for (const host of [f.host, f.host6].filter((h) => h !== null) as string[]) {
      const fd = await native.connect(host, f.port, 5000);
      const s = new Session();
      try {
        await s.handshake(fd);
        await auth(s);
      } finally {
        native.closeFd(fd); // ours: the session works on its own dup
        await s.close();
      }
    }
  });

  it('the native connect fails with a ConnectionError on a closed port and on a bad address', async () => {
    const srv = await rawServer(() => undefined);
    const port = srv.port;
    await srv.close();
    await expect(native.connect('127.0.0.1', port, 5000)).rejects.toBeInstanceOf(ConnectionError);
    expect(() => native.connect('not-an-ip', 22)).toThrow(expect.objectContaining({ name: 'TypeError' }));
  });

  it('any Duplex: a net.Socket wrapped in a PassThrough pair', async () => {
    const sock = await tcp();
    const toServer = new PassThrough();
    const fromServer = new PassThrough();
    toServer.pipe(sock);
    sock.pipe(fromServer);
    const duplex = Duplex.from({ readable: fromServer, writable: toServer });
    const s = new Session();
    await s.handshake(duplex);
    await auth(s);
    await s.close();
    sock.destroy();
  });

  it('rejects a transport of the wrong type with TypeError', async () => {
    const s = new Session();
    await expect(s.handshake('localhost' as unknown as number)).rejects.toThrow(TypeError);
    await expect(s.handshake(-1)).rejects.toThrow(RangeError);
    await s.free();
  });
});

describe('host keys and algorithms', () => {
  const hostKeyAlgo: Record<HostKeyName, string> = {
    rsa: 'rsa-sha2-256', ecdsa256: 'ecdsa-sha2-nistp256', ecdsa384: 'ecdsa-sha2-nistp384',
    ecdsa521: 'ecdsa-sha2-nistp521', ed25519: 'ssh-ed25519',
  };

  function fingerprint(pubFile: string, hash: string): Buffer {
    const out = execFileSync('ssh-keygen', ['-l', '-E', hash, '-f', pubFile], { encoding: 'utf8' });
    const fp = out.split(' ')[1].replace(/^(MD5|SHA1|SHA256):/, '');
    return hash === 'md5' ? Buffer.from(fp.replace(/:/g, ''), 'hex') : Buffer.from(fp, 'base64');
  }

  it.each(Object.keys(hostKeyAlgo) as HostKeyName[])('hostkeyHash of the %s host key equals ssh-keygen -l', async (name) => {
    const s = new Session();
    expect(s.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA256)).toBeNull();
    expect(s.hostkey()).toBeNull();
    s.methodPref(LIBSSH2_METHOD_HOSTKEY, hostKeyAlgo[name]);
    await s.handshake(await tcp());
    expect(s.methods(LIBSSH2_METHOD_HOSTKEY)).toBe(hostKeyAlgo[name]);
    const pub = f.hostKeys[name].public;
    expect(s.hostkeyHash(LIBSSH2_HOSTKEY_HASH_MD5)).toEqual(fingerprint(pub, 'md5'));
    expect(s.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA1)!.toString('base64').replace(/=+$/, ''))
      .toBe(fingerprint(pub, 'sha1').toString('base64').replace(/=+$/, ''));
    expect(s.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA256)).toEqual(fingerprint(pub, 'sha256'));
    const hk = s.hostkey()!;
    expect(hk.key).toEqual(Buffer.from(fs.readFileSync(pub, 'utf8').split(' ')[1], 'base64'));
    if (name === 'ed25519') expect(hk.type).toBe(LIBSSH2_HOSTKEY_TYPE_ED25519);
    await s.close();
  });

  const families: [string, number, number | null, keyof typeof f.algorithms][] = [
    ['kex', LIBSSH2_METHOD_KEX, null, 'kex'],
    ['cipher', LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC, 'ciphers'],
    ['mac', LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC, 'macs'],
    ['host key', LIBSSH2_METHOD_HOSTKEY, null, 'hostKey'],
  ];

  it.each(families)('every %s both sides support negotiates', async (_label, type, type2, key) => {
    const probe = new Session();
    const ours = probe.supportedAlgs(type);
    await probe.free();
    // AEAD ciphers carry their own MAC: test MACs with a non-AEAD cipher.
    const offered = f.algorithms[key].filter((a) => ours.includes(a) && !a.includes('-cert-v01'));
    expect(offered.length).toBeGreaterThan(2);
    for (const algo of offered) {
      const s = new Session();
      s.methodPref(type, algo);
      if (type2 !== null) s.methodPref(type2, algo);
      if (key === 'macs') {
        s.methodPref(LIBSSH2_METHOD_CRYPT_CS, 'aes128-ctr');
        s.methodPref(LIBSSH2_METHOD_CRYPT_SC, 'aes128-ctr');
      }
      try {
        await s.handshake(await tcp());
        expect([algo, s.methods(type)]).toEqual([algo, algo]);
        await auth(s);
      } finally {
        await s.close();
      }
    }
  }, 120000);

  it('methods() is null before the handshake; methodPref rejects unknown methods', async () => {
    const s = new Session();
    expect(s.methods(LIBSSH2_METHOD_KEX)).toBeNull();
    expect(() => s.methodPref(LIBSSH2_METHOD_CRYPT_CS, 'no-such-cipher')).toThrow(MethodNotSupportedError);
    expect(() => s.methodPref(999, 'aes128-ctr')).toThrow(InvalError);
    expect(s.supportedAlgs(LIBSSH2_METHOD_KEX)).toContain('curve25519-sha256');
    await s.free();
  });

  it('compression (LIBSSH2_FLAG_COMPRESS) negotiates zlib', async () => {
    const s = new Session();
    s.flag(LIBSSH2_FLAG_COMPRESS, 1);
    await s.handshake(await tcp());
    expect(s.methods(LIBSSH2_METHOD_COMP_CS)).toMatch(/zlib/);
    await auth(s);
    await s.close();
  });

  it('bannerSet changes the identification string we send', async () => {
    let seen = '';
    const srv = await rawServer((c) => {
      c.write('SSH-2.0-OpenSSH_9.2\r\n');
      c.on('data', (d) => {
        seen += d.toString('latin1');
        if (seen.includes('\r\n')) c.destroy();
      });
    });
    const s = new Session();
    s.bannerSet('SSH-2.0-node_libssh2_test_banner');
    await s.handshake(await tcp('127.0.0.1', srv.port)).catch(() => undefined);
    expect(seen.split('\r\n')[0]).toBe('SSH-2.0-node_libssh2_test_banner');
    await s.free();
    await srv.close();
  });
});

describe('session behaviour', () => {
  it('trace lines reach the JS handler', async () => {
    const lines: string[] = [];
    const s = await handshaken((s) => s.trace(LIBSSH2_TRACE_KEX | LIBSSH2_TRACE_AUTH, (l) => lines.push(l)));
    await auth(s);
    await s.close();
    expect(lines.some((l) => /Agreed on KEX method/.test(l))).toBe(true);
    expect(lines.some((l) => /Userauth|auth/i.test(l))).toBe(true);
  });

  it('lastError, setLastError, timeouts, keepalive and blockDirections', async () => {
    const s = await handshaken();
    await auth(s);
    expect(s.getTimeout()).toBe(0);
    s.setTimeout(5000);
    expect(s.getTimeout()).toBe(5000);
    expect(() => s.setTimeout(-1)).toThrow(RangeError);
    s.keepaliveConfig(false, 10);
    expect(await s.keepaliveSend()).toBeGreaterThan(0);
    expect(typeof s.blockDirections()).toBe('number');
    s.setLastError(LIBSSH2_ERROR_EAGAIN, 'custom message');
    expect(s.lastError()).toEqual({ errno: LIBSSH2_ERROR_EAGAIN, code: 'LIBSSH2_ERROR_EAGAIN', message: 'custom message' });
    expect(s.lastErrno()).toBe(LIBSSH2_ERROR_EAGAIN);
    expect(s.userauthBanner()).toBeNull();
    await s.close();
  });

  it('non-blocking mode: async methods reject with BadUseError; mode changes only while idle', async () => {
    const s = await handshaken();
    expect(s.getBlocking()).toBe(true);
    s.setBlocking(false);
    expect(s.getBlocking()).toBe(false);
    await expect(s.userauthList(f.user)).rejects.toBeInstanceOf(BadUseError);
    s.setBlocking(true);
    const pending = s.userauthList(f.user);
    expect(() => s.setBlocking(false)).toThrow(BadUseError);
    await pending;
    await s.close(); // teardown works in both modes
  });

  it('after free every call throws or rejects with BadUseError; free and close are idempotent', async () => {
    const s = await handshaken();
    await s.free();
    await s.free();
    await s.close();
    expect(s.closed).toBe(true);
    await expect(s.userauthList(f.user)).rejects.toBeInstanceOf(BadUseError);
    expect(() => s.methods(LIBSSH2_METHOD_KEX)).toThrow(BadUseError);
    expect(() => s.lastError()).toThrow(BadUseError);
  });

  it('free() rejects the ops still pending with BadUseError', async () => {
    const srv = await rawServer(() => undefined); // never sends a banner
    const s = new Session();
    const sock = await tcp('127.0.0.1', srv.port);
    const hs = s.handshake(sock);
    await new Promise((r) => setTimeout(r, 50));
    await s.free();
    await expect(hs).rejects.toBeInstanceOf(BadUseError);
    await srv.close();
  });

  it('free() while a channel free waits for the peer: the parked op never steps on the freed session', async () => {
    // channel.free() sends CLOSE and waits for the peer's, which sshd sends only when the
    // command ends: the op parks. session.free() completes first; the parked op, woken by that
    // completion, must finish without libssh2 (it stepped on the freed session: ASan
    // heap-use-after-free in libssh2_session_send_pending).
    const s = await handshaken();
    await auth(s);
    const chans = await Promise.all([0, 1, 2].map(() => s.openSession()));
    await Promise.all(chans.map((ch) => ch.exec('sleep 30')));
    const frees = chans.map((ch) => ch.free());
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await s.free();
    await Promise.all(frees);
    expect(Date.now() - t0).toBeLessThan(10000); // long before the 30 s sleep ends
    expect(s.closed).toBe(true);
  });

  it('a timeout on a parked op rejects with TimeoutError and closes the session (mid-state)', async () => {
    const srv = await rawServer(() => undefined); // silent: the handshake parks waiting for a banner
    const s = new Session();
    s.setTimeout(300);
    const started = Date.now();
    const err = await s.handshake(await tcp('127.0.0.1', srv.port)).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.fn).toBe('libssh2_session_handshake');
    expect(Date.now() - started).toBeLessThan(4000);
    expect(s.closed).toBe(true);
    await expect(s.userauthList(f.user)).rejects.toBe(err); // later ops reject with the same error
    await s.free();
    await srv.close();
  });

  it('the server dying mid-handshake rejects with a ConnectionError, no hang', async () => {
    const srv = await rawServer((c) => {
      c.write('SSH-2.0-OpenSSH_9.2\r\n');
      c.once('data', () => c.destroy()); // our banner/KEXINIT arrives: hang up
    });
    const s = new Session();
    const err = await s.handshake(await tcp('127.0.0.1', srv.port)).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(s.closed).toBe(true);
    await s.free();
    await srv.close();
  });

  it('garbage instead of a banner rejects with a ConnectionError', async () => {
    const srv = await rawServer((c) => { c.end(Buffer.alloc(70000, 0x41)); });
    const s = new Session();
    s.setTimeout(10000);
    const err = await s.handshake(await tcp('127.0.0.1', srv.port)).catch((e) => e);
    expect(err).toBeInstanceOf(Libssh2Error);
    expect(err).not.toBeInstanceOf(TimeoutError);
    await s.free();
    await srv.close();
  });

  it('50 sessions parked in the handshake do not starve the threadpool', async () => {
    const srv = await rawServer(() => undefined);
    const sessions: Session[] = [];
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const s = new Session();
      sessions.push(s);
      pending.push(s.handshake(await tcp('127.0.0.1', srv.port)).catch((e) => e));
    }
    const file = path.join(os.tmpdir(), `libssh2-starve-${process.pid}`);
    fs.writeFileSync(file, 'x'.repeat(1000));
    const t0 = Date.now();
    // More reads than threadpool threads, each needing a pool thread.
    await Promise.all(Array.from({ length: 64 }, () => fs.promises.readFile(file)));
    const elapsed = Date.now() - t0;
    fs.unlinkSync(file);
    expect(elapsed).toBeLessThan(2000); // parked sessions hold no thread; a waiting thread would stall this
    for (const s of sessions) await s.free();
    const results = await Promise.all(pending);
    for (const r of results) expect(r).toBeInstanceOf(BadUseError);
    await srv.close();
  });

  it('concurrent userauth calls on one session run one at a time and all settle', async () => {
    const s = await handshaken();
    const lists = await Promise.all([s.userauthList(f.user), s.userauthList(f.user), s.userauthList(f.user)]);
    for (const l of lists) expect(l).toContain('publickey');
    const results = await Promise.allSettled([
      s.userauthPublickeyFromfile(f.user, f.keys.unauthorized.private),
      s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private),
    ]);
    expect(results[0].status).toBe('rejected');
    expect(results[1].status).toBe('fulfilled');
    expect(s.userauthAuthenticated()).toBe(true);
    await s.close();
  });

  it('an idle session does not keep the process alive; ref() makes it, unref() undoes it', () => {
    const register = path.join(__dirname, '..', 'scripts', 'register-ts.js');
    const lib = path.join(__dirname, '..', 'lib');
    const script = (calls: string) => `require(${JSON.stringify(register)});
      const { Session } = require(${JSON.stringify(lib)});
      const s = new Session(); ${calls}
      process.on('exit', () => console.log('exited'));`;
    const idle = spawnSync(process.execPath, ['-e', script('')], { encoding: 'utf8', timeout: 20000 });
    expect(idle.stdout.trim()).toBe('exited');
    expect(idle.status).toBe(0);
    const reffed = spawnSync(process.execPath, ['-e', script('s.ref();')], { encoding: 'utf8', timeout: 3000 });
    expect(reffed.signal).toBe('SIGTERM'); // still running when the 3 s limit killed it
    const unreffed = spawnSync(process.execPath, ['-e', script('s.ref(); s.unref();')], { encoding: 'utf8', timeout: 20000 });
    expect(unreffed.stdout.trim()).toBe('exited');
  });

  it('a connected idle session: bytes nobody reads wake no busy loop, and the process still exits', () => {
    // Between ops the scheduler keeps its socket watched (unref'd). Data that arrives with no op
    // waiting (a command's output nobody reads) must not spin the loop on a readiness nobody
    // consumes, nor keep the process alive.
    const register = path.join(__dirname, '..', 'scripts', 'register-ts.js');
    const lib = path.join(__dirname, '..', 'lib');
    const script = `require(${JSON.stringify(register)});
      const net = require('net');
      const { Session } = require(${JSON.stringify(lib)});
      (async () => {
        const sock = net.connect(${f.port}, ${JSON.stringify(f.host)});
        await new Promise((r) => sock.once('connect', r));
        const s = new Session();
        await s.handshake(sock);
        await s.userauthPublickeyFromfile(${JSON.stringify(f.user)}, ${JSON.stringify(f.keys.ed25519.private)});
        const ch = await s.openSession();
        await ch.exec('sleep 0.3; head -c 1000 /dev/zero; sleep 0.3; head -c 1000 /dev/zero');
        const c0 = process.cpuUsage();
        setTimeout(() => {
          const c = process.cpuUsage(c0);
          console.log('cpu ' + (c.user + c.system) / 1000);
        }, 5000);
      })();
      process.on('exit', () => console.log('exited'));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 40000 });
    const lines = r.stdout.trim().split('\n');
    expect(lines[lines.length - 1]).toBe('exited');
    // CPU over 5 s idle: a few ms; a loop spinning on the readable socket took ~40 ms per second
    // here (18,000 wakeups/s), and no less on a loaded machine, where a runnable process gets its
    // share.
    const cpu = Number(/cpu ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(cpu).toBeLessThan(60);
  }, 60000);

  it('await using closes the session', async () => {
    let kept: Session | undefined;
    {
      await using s = await handshaken();
      kept = s;
      await auth(s);
    }
    expect(kept.closed).toBe(true);
  });

  it('sessions dropped without close are collected without a crash (GC)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    for (let i = 0; i < 20; i++) {
      const s = new Session();
      if (i % 2 === 0) {
        await s.handshake(await tcp());
        if (i % 4 === 0) await auth(s);
      }
    }
    for (let i = 0; i < 200; i++) new Session();
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    // Still healthy afterwards.
    const s = await handshaken();
    await auth(s);
    await s.close();
  });
});
