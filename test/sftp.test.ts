import * as crypto from 'crypto';
import * as v8 from 'v8';
import * as vm from 'vm';
import {
  Session, Sftp, SftpHandle, SftpAttributes, BadUseError, SftpProtocolError, SftpNoSuchFileError,
  SftpPermissionDeniedError, SftpFailureError, LIBSSH2_FXF_READ, LIBSSH2_FXF_WRITE, LIBSSH2_FXF_CREAT,
  LIBSSH2_FXF_TRUNC, LIBSSH2_FXF_APPEND,
} from '../lib';
import { authenticated } from './helpers/connect';

const W = LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC;
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

async function put(sftp: Sftp, path: string, data: Buffer, mode = 0o644): Promise<void> {
  const h = await sftp.open(path, W, mode);
  expect(await h.write(data)).toBe(data.length);
  await h.close();
}

async function get(sftp: Sftp, path: string, size?: number): Promise<Buffer> {
  const h = await sftp.open(path, LIBSSH2_FXF_READ);
  const parts: Buffer[] = [];
  for (let b = await h.read(size); b.length; b = await h.read(size)) parts.push(b);
  await h.close();
  return Buffer.concat(parts);
}

describe('sftp', () => {
  let s: Session;
  let sftp: Sftp;
  let dir: string;

  beforeAll(async () => {
    s = await authenticated();
    sftp = await s.sftpInit();
    dir = `${await sftp.realpath('.')}/libssh2-sftp-test-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    await sftp.mkdir(dir, 0o755);
  });
  afterAll(async () => {
    await sftp.rmdir(dir, { recursive: true });
    await sftp.shutdown();
    await s.close();
  });

  it.each([0, 1, 30000, 30001, 1024 * 1024 + 7, 64 * 1024 * 1024])('round trip of %d random bytes, sha256 equal', async (size) => {
    const data = crypto.randomBytes(size);
    await put(sftp, `${dir}/rt-${size}`, data);
    expect((await sftp.stat(`${dir}/rt-${size}`)).filesize).toBe(size);
    const back = await get(sftp, `${dir}/rt-${size}`);
    expect(back.length).toBe(size);
    expect(sha(back)).toBe(sha(data));
  }, 120000);

  it('small files: libssh2 rereading an empty socket costs no recv(2) (the scheduler knows it is drained)', async () => {
    // Per file: open, readInto of 32 KiB until 0 (libssh2 asks for 5 chunks ahead), close.
    // libssh2 called recv(2) ~49 times per file, 37 of them on an empty socket; the binding
    // answers those itself until the poll sees the socket readable again: ~14.
    const files = Array.from({ length: 40 }, (_, i) => crypto.randomBytes(4096 + i));
    for (const [i, data] of files.entries()) await put(sftp, `${dir}/small-${i}`, data);
    const buf = Buffer.alloc(32768);
    const before = s.native.state().recvCalls;
    for (const [i, data] of files.entries()) {
      const h = await sftp.open(`${dir}/small-${i}`, LIBSSH2_FXF_READ);
      let got = 0;
      for (let n = await h.readInto(buf); n > 0; n = await h.readInto(buf.subarray(got))) got += n;
      await h.close();
      expect(buf.subarray(0, got)).toEqual(data);
    }
    const perFile = (s.native.state().recvCalls - before) / files.length;
    expect(perFile).toBeGreaterThan(2);
    expect(perFile).toBeLessThan(25);
  });

  it('readInto, seek64 while reading, tell64, rewind', async () => {
    const data = crypto.randomBytes(300000);
    await put(sftp, `${dir}/seek`, data);
    const h = await sftp.open(`${dir}/seek`, LIBSSH2_FXF_READ);
    const first = await h.read(30000);
    expect(first).toEqual(data.subarray(0, first.length));
    h.seek64(250000);
    expect(h.tell64()).toBe(250000);
    const buf = Buffer.alloc(30000);
    const n = await h.readInto(buf);
    expect(buf.subarray(0, n)).toEqual(data.subarray(250000, 250000 + n));
    h.rewind();
    expect(await h.read(10)).toEqual(data.subarray(0, 10));
    await h.close();
    const fresh = await sftp.open(`${dir}/seek`, LIBSSH2_FXF_READ);
    const big = await sftp.open(`${dir}/seek-big`, W);
    const writing = big.write(crypto.randomBytes(8 * 1024 * 1024)); // holds the SFTP object's gate
    const pending = fresh.read(10); // queued behind it
    expect(() => fresh.seek64(0)).toThrow(BadUseError); // never while a read is pending
    expect(await pending).toEqual(data.subarray(0, 10));
    await writing;
    await big.close();
    await fresh.close();
  });

  it('append', async () => {
    await put(sftp, `${dir}/app`, Buffer.from('one\n'));
    const h = await sftp.open(`${dir}/app`, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_APPEND);
    await h.write('two\n');
    await h.close();
    expect((await get(sftp, `${dir}/app`)).toString()).toBe('one\ntwo\n');
  });

  it('errors carry the SFTP status', async () => {
    const missing = await sftp.stat(`${dir}/nope`).catch((e) => e);
    expect(missing).toBeInstanceOf(SftpNoSuchFileError);
    expect(missing).toBeInstanceOf(SftpProtocolError);
    expect(missing.status).toBe(2);
    expect(missing.statusName).toBe('LIBSSH2_FX_NO_SUCH_FILE');
    expect(missing.fn).toBe('libssh2_sftp_stat_ex');
    expect(sftp.lastError()).toBe(2);
    await expect(sftp.open(`${dir}/nope`, LIBSSH2_FXF_READ)).rejects.toBeInstanceOf(SftpNoSuchFileError);
    // OpenSSH's v3 server answers mkdir of an existing directory with FX_FAILURE.
    await expect(sftp.mkdir(dir, 0o755)).rejects.toBeInstanceOf(SftpFailureError);
    await put(sftp, `${dir}/locked`, Buffer.from('secret'), 0o000);
    await sftp.setstat(`${dir}/locked`, { permissions: 0o000 });
    const denied = await sftp.open(`${dir}/locked`, LIBSSH2_FXF_READ).catch((e) => e);
    if (process.getuid?.() === 0 && (await sftp.realpath('.')) === '/root') {
      expect(denied).toBeInstanceOf(SftpHandle); // root reads anything
    } else {
      expect(denied).toBeInstanceOf(SftpPermissionDeniedError);
    }
    // The SFTP object still works after errors.
    expect((await sftp.stat(dir)).isDirectory()).toBe(true);
  });

  it('stat, lstat, setstat, fstat, fsetstat', async () => {
    await put(sftp, `${dir}/attrs`, Buffer.alloc(1234, 1));
    await sftp.setstat(`${dir}/attrs`, { permissions: 0o600, atime: 1000000000, mtime: 1200000000 });
    const a = await sftp.stat(`${dir}/attrs`);
    expect(a).toBeInstanceOf(SftpAttributes);
    expect(a.isFile()).toBe(true);
    expect(a.size).toBe(1234);
    expect(a.permissions & 0o777).toBe(0o600);
    expect(a.mtime).toBe(1200000000);
    const h = await sftp.open(`${dir}/attrs`, LIBSSH2_FXF_READ | LIBSSH2_FXF_WRITE);
    await h.fsetstat({ permissions: 0o640 });
    expect(((await h.fstat()).permissions) & 0o777).toBe(0o640);
    expect((await h.fstatvfs()).f_bsize).toBeGreaterThan(0);
    await h.fsync();
    await h.close();
  });

  it('symlink, readlink, realpath, lstat of a link', async () => {
    await put(sftp, `${dir}/target`, Buffer.from('t'));
    await sftp.symlink(`${dir}/target`, `${dir}/link`);
    expect(await sftp.readlink(`${dir}/link`)).toBe(`${dir}/target`);
    expect(await sftp.realpath(`${dir}/./link/..`)).toBe(dir);
    expect((await sftp.lstat(`${dir}/link`)).isSymbolicLink()).toBe(true);
    expect((await sftp.stat(`${dir}/link`)).isFile()).toBe(true);
  });

  it('statvfs', async () => {
    const st = await sftp.statvfs(dir);
    expect(st.f_bsize).toBeGreaterThan(0);
    expect(st.f_blocks).toBeGreaterThan(0);
    expect(st.f_namemax).toBeGreaterThan(0);
  });

  it('rename refuses to replace on OpenSSH; posixRename replaces', async () => {
    await put(sftp, `${dir}/a`, Buffer.from('A'));
    await put(sftp, `${dir}/b`, Buffer.from('B'));
    await expect(sftp.rename(`${dir}/a`, `${dir}/b`)).rejects.toBeInstanceOf(SftpFailureError);
    await sftp.rename(`${dir}/a`, `${dir}/c`);
    await sftp.posixRename(`${dir}/c`, `${dir}/b`);
    expect((await get(sftp, `${dir}/b`)).toString()).toBe('A');
    await expect(sftp.stat(`${dir}/a`)).rejects.toBeInstanceOf(SftpNoSuchFileError);
  });

  it('readdir of 2000 entries (async iteration)', async () => {
    await sftp.mkdir(`${dir}/many`, 0o755);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => put(sftp, `${dir}/many/f${i}`, Buffer.from(String(i)))));
    const names = new Set<string>();
    const d = await sftp.opendir(`${dir}/many`);
    for await (const [name, attrs, longentry] of d) {
      names.add(name);
      if (name.startsWith('f')) {
        expect(attrs.isFile()).toBe(true);
        expect(longentry).toContain(name);
      }
    }
    expect(await d.readdir()).toBeNull();
    await d.close();
    expect(names.size).toBe(2002);
    expect(names.has('f1999')).toBe(true);
  }, 120000);

  it('mkdir/rmdir recursive; unlink', async () => {
    await sftp.mkdir(`${dir}/x/y/z`, { recursive: true });
    await sftp.mkdir(`${dir}/x/y/z`, { recursive: true }); // exists: fine
    await put(sftp, `${dir}/x/y/z/f`, Buffer.from('f'));
    await sftp.rmdir(`${dir}/x`, { recursive: true });
    await expect(sftp.stat(`${dir}/x`)).rejects.toBeInstanceOf(SftpNoSuchFileError);
    await put(sftp, `${dir}/u`, Buffer.from('u'));
    await sftp.unlink(`${dir}/u`);
    await expect(sftp.unlink(`${dir}/u`)).rejects.toBeInstanceOf(SftpNoSuchFileError);
  });

  it('10 concurrent downloads on one SFTP object return the right contents', async () => {
    const files = Array.from({ length: 10 }, (_, i) => crypto.randomBytes(200000 + i));
    await Promise.all(files.map((d, i) => put(sftp, `${dir}/c${i}`, d)));
    const back = await Promise.all(files.map((_, i) => get(sftp, `${dir}/c${i}`, 30000)));
    back.forEach((b, i) => expect(sha(b)).toBe(sha(files[i])));
  });

  it('several SFTP objects on one session work in parallel', async () => {
    const more = await Promise.all([s.sftpInit(), s.sftpInit(), s.sftpInit()]);
    const data = crypto.randomBytes(500000);
    await put(sftp, `${dir}/par`, data);
    const back = await Promise.all(more.map((x) => get(x, `${dir}/par`)));
    for (const b of back) expect(sha(b)).toBe(sha(data));
    await Promise.all(more.map((x) => x.shutdown()));
  });

  it('after close and shutdown: BadUseError; close/shutdown are idempotent; shutdown closes open handles', async () => {
    const x = await s.sftpInit();
    await put(x, `${dir}/z`, Buffer.from('z'));
    const h = await x.open(`${dir}/z`, LIBSSH2_FXF_READ);
    await h.close();
    await h.close();
    await expect(h.read()).rejects.toBeInstanceOf(BadUseError);
    const open = await x.open(`${dir}/z`, LIBSSH2_FXF_READ);
    await x.shutdown();
    await x.shutdown();
    await expect(open.read()).rejects.toBeInstanceOf(BadUseError);
    await expect(x.stat(dir)).rejects.toBeInstanceOf(BadUseError);
    expect(() => x.lastError()).toThrow(BadUseError);
  });

  it('bad arguments: TypeError/RangeError', async () => {
    await expect(sftp.open(1 as unknown as string, LIBSSH2_FXF_READ)).rejects.toThrow(TypeError);
    await expect(sftp.open(dir, -1)).rejects.toThrow(RangeError);
    await expect(sftp.setstat(dir, null as unknown as object)).rejects.toThrow(TypeError);
    await expect(sftp.setstat(dir, { permissions: -1 })).rejects.toThrow(RangeError);
  });

  it('SFTP objects and handles dropped without close are collected; the session stays healthy', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    await put(sftp, `${dir}/gc`, Buffer.from('gc'));
    await (async () => {
      for (let i = 0; i < 5; i++) {
        const x = await s.sftpInit();
        await Promise.all(Array.from({ length: 10 }, () => x.open(`${dir}/gc`, LIBSSH2_FXF_READ)));
      }
      await Promise.all(Array.from({ length: 20 }, () => sftp.open(`${dir}/gc`, LIBSSH2_FXF_READ)));
    })();
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await get(sftp, `${dir}/gc`)).toString()).toBe('gc');
  });

  it('a session freed with open SFTP objects and handles tears them down', async () => {
    const s2 = await authenticated();
    const x = await s2.sftpInit();
    await put(x, `${dir}/fr`, Buffer.from('fr'));
    const h = await x.open(`${dir}/fr`, LIBSSH2_FXF_READ);
    await s2.free();
    await expect(h.read()).rejects.toBeInstanceOf(BadUseError);
    await expect(x.stat(dir)).rejects.toBeInstanceOf(BadUseError);
  });
});
