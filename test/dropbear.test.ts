/**
 * Interoperability with a second real server: Dropbear (Debian `dropbear-bin`), started here on
 * a free loopback port with a host key made by dropbearkey in a private temporary directory.
 *
 * Logins use the fixture's user (the local test user `libssh2test` as root, else the current
 * user). Dropbear has no option for an authorized_keys path: it reads `~/.ssh/authorized_keys`
 * of the user. The test appends its own lines (marked with a per-run comment) and removes exactly
 * those lines afterwards, so an existing file is never clobbered. Password logins need root
 * (Dropbear checks the password against the shadow database); the fixture gives the test user
 * a password then.
 */
import { spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import {
  Session, connect, AuthError, AuthenticationFailedError, ChannelFailureError, LIBSSH2_FXF_READ, LIBSSH2_METHOD_KEX,
  LIBSSH2_METHOD_HOSTKEY, LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_MAC_CS, LIBSSH2_HOSTKEY_HASH_SHA256,
} from '../lib';
import { fixture, itIfRoot } from './fixtures';
import { echoThrough } from './helpers/channel';

const DROPBEAR = '/usr/sbin/dropbear';
const DROPBEARKEY = fs.existsSync('/usr/bin/dropbearkey') ? '/usr/bin/dropbearkey' : 'dropbearkey';
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Dropbear {
  dir: string;
  port: number;
  pidFile: string;
  logFile: string;
  watchdogPid: number;
  hostKey: string;
  /** The host key's public line (`ssh-ed25519 AAAA...`), from dropbearkey -y. */
  hostKeyLine: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function banner(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let data = '';
    const done = (v: string | null) => { clearTimeout(t); c.destroy(); resolve(v); };
    const t = setTimeout(() => done(null), 2000);
    c.setEncoding('latin1');
    c.on('data', (d: string) => {
      data += d;
      const line = data.split('\n')[0];
      if (data.includes('\n')) done(line.replace(/\r$/, ''));
    });
    c.on('error', () => done(null));
  });
}

/**
 * Starts dropbear under a shell watchdog that kills it when this process is gone (a killed jest
 * worker leaves no server behind). Retries on a port race.
 */
async function startDropbear(): Promise<Dropbear> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-dropbear-'));
  const hostKey = path.join(dir, 'dropbear_ed25519_host_key');
  const gen = spawnSync(DROPBEARKEY, ['-t', 'ed25519', '-f', hostKey], { encoding: 'utf8', timeout: 30000 });
  if (gen.status !== 0) throw new Error(`dropbearkey failed: ${gen.stderr}`);
  const pub = spawnSync(DROPBEARKEY, ['-y', '-f', hostKey], { encoding: 'utf8', timeout: 30000 });
  const hostKeyLine = (pub.stdout.split('\n').find((l) => l.startsWith('ssh-ed25519 ')) ?? '').split(' ').slice(0, 2).join(' ');
  const pidFile = path.join(dir, 'dropbear.pid');
  const logFile = path.join(dir, 'dropbear.log');
  const script = [
    '"$0" -F -E -m -p "127.0.0.1:$1" -r "$2" -P "$3" </dev/null & pid=$!',
    'trap \'kill $pid 2>/dev/null; exit 0\' TERM INT HUP',
    'while kill -0 "$4" 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1 & wait $!; done',
    'kill $pid 2>/dev/null',
  ].join('\n');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    fs.writeFileSync(logFile, '');
    const log = fs.openSync(logFile, 'a');
    const child = spawn('/bin/sh', ['-c', script, DROPBEAR, String(port), hostKey, pidFile, String(process.pid)], {
      detached: true, stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    child.unref();
    let exited = false;
    child.on('exit', () => { exited = true; });
    const deadline = Date.now() + 10000;
    let line: string | null = null;
    while (Date.now() < deadline && !exited) {
      if (fs.existsSync(pidFile) && (line = await banner(port)) !== null) break;
      await sleep(50);
    }
    if (line?.startsWith('SSH-2.0-dropbear')) {
      return { dir, port, pidFile, logFile, watchdogPid: child.pid!, hostKey, hostKeyLine };
    }
    try { process.kill(child.pid!, 'SIGTERM'); } catch { /* gone */ }
    const text = fs.readFileSync(logFile, 'utf8');
    if (attempt >= 3 || !/Address already in use|Failed listening/.test(text)) {
      throw new Error(`dropbear did not start (banner ${JSON.stringify(line)}):\n${text}`);
    }
  }
}

async function stopDropbear(d: Dropbear): Promise<void> {
  const pid = Number(fs.existsSync(d.pidFile) ? fs.readFileSync(d.pidFile, 'utf8').trim() : 0);
  for (const p of [d.watchdogPid, pid]) {
    try { if (p > 1) process.kill(p, 'SIGTERM'); } catch { /* gone */ }
  }
  for (let i = 0; i < 40 && pid > 1; i++) {
    try { process.kill(pid, 0); } catch { break; }
    await sleep(50);
  }
  fs.rmSync(d.dir, { recursive: true, force: true });
}

/** The user's authorized_keys, with our marked lines added; `remove()` takes exactly those out. */
function authorize(user: string, publicKeys: string[], marker: string): { remove: () => void } {
  const pw = spawnSync('getent', ['passwd', user], { encoding: 'utf8' }).stdout.trim().split(':');
  const [uid, gid, home] = [Number(pw[2]), Number(pw[3]), pw[5]];
  const sshDir = path.join(home, '.ssh');
  const file = path.join(sshDir, 'authorized_keys');
  const asRoot = process.getuid?.() === 0;
  if (!fs.existsSync(sshDir)) {
    fs.mkdirSync(sshDir, { mode: 0o700 });
    if (asRoot) fs.chownSync(sshDir, uid, gid);
  }
  const existed = fs.existsSync(file);
  const lines = publicKeys.map((k) => `${fs.readFileSync(k, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ')} ${marker}\n`);
  fs.appendFileSync(file, lines.join(''), { mode: 0o600 });
  if (!existed && asRoot) fs.chownSync(file, uid, gid);
  return {
    remove: () => {
      if (!fs.existsSync(file)) return;
      const kept = fs.readFileSync(file, 'utf8').split('\n').filter((l) => !l.endsWith(` ${marker}`)).join('\n');
      if (!existed && kept.trim() === '') {
        fs.rmSync(file, { force: true });
        return;
      }
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, kept, { mode: 0o600 });
      if (asRoot) fs.chownSync(tmp, uid, gid);
      fs.renameSync(tmp, file);
    },
  };
}


describe('interop with Dropbear', () => {
  const f = fixture();
  let d: Dropbear;
  let auth: { remove: () => void } | undefined;
  let s: Session;
  const open: Session[] = [];
  const marker = `libssh2-dropbear-test-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;

  async function handshaken(): Promise<Session> {
    const sess = new Session();
    open.push(sess);
    const sock = net.connect(d.port, '127.0.0.1');
    await new Promise<void>((r, j) => { sock.once('connect', r); sock.once('error', j); });
    await sess.handshake(sock);
    return sess;
  }

  async function loggedIn(): Promise<Session> {
    const sess = await handshaken();
    await sess.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
    return sess;
  }

  beforeAll(async () => {
    d = await startDropbear();
    auth = authorize(f.user, [f.keys.ed25519.public, f.keys.ed25519Encrypted.public, f.keys.ecdsa256.public, f.keys.rsa.public], marker);
    s = await loggedIn();
  }, 60000);

  afterAll(async () => {
    await Promise.all(open.map((x) => x.close().catch(() => undefined)));
    auth?.remove();
    if (d) await stopDropbear(d);
  }, 30000);

  it('handshake: Dropbear banner, negotiated methods, host key as dropbearkey prints it', async () => {
    const sess = await handshaken();
    expect(sess.bannerGet()).toMatch(/^SSH-2\.0-dropbear_\d{4}\.\d+$/);
    expect(sess.methods(LIBSSH2_METHOD_KEX)).toMatch(/^(curve25519-sha256|curve25519-sha256@libssh.org|ecdh-sha2-nistp\d+|diffie-hellman-group\S+)$/);
    expect(sess.methods(LIBSSH2_METHOD_HOSTKEY)).toBe('ssh-ed25519');
    expect(sess.methods(LIBSSH2_METHOD_CRYPT_CS)).toBeTruthy();
    expect(sess.methods(LIBSSH2_METHOD_MAC_CS)).toBeTruthy();
    const hk = sess.hostkey();
    expect(hk).not.toBeNull();
    expect(`ssh-ed25519 ${hk!.key.toString('base64')}`).toBe(d.hostKeyLine);
    expect(sess.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA256)).toHaveLength(32);
    expect(await sess.userauthList(f.user)).toEqual(expect.arrayContaining(['publickey']));
  });

  it('publickey auth: ed25519 from file, ECDSA and RSA from memory; an unauthorized key is refused', async () => {
    expect(s.userauthAuthenticated()).toBe(true);
    const a = await handshaken();
    await a.userauthPublickeyFrommemory(f.user, fs.readFileSync(f.keys.ecdsa256.private));
    expect(a.userauthAuthenticated()).toBe(true);
    const b = await handshaken();
    await b.userauthPublickeyFrommemory(f.user, fs.readFileSync(f.keys.rsa.private, 'utf8'));
    expect(b.userauthAuthenticated()).toBe(true);
    expect((await b.exec('echo rsa', { encoding: 'utf8' })).stdout).toBe('rsa\n');
    const c = await handshaken();
    const err = await c.userauthPublickeyFromfile(f.user, f.keys.unauthorized.private).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(c.userauthAuthenticated()).toBe(false);
    // An encrypted key with its passphrase.
    const e = await handshaken();
    await e.userauthPublickeyFromfile(f.user, f.keys.ed25519Encrypted.private, f.passphrase);
    expect(e.userauthAuthenticated()).toBe(true);
  });

  itIfRoot('password auth (root: the test user has a password); a wrong one is refused', async () => {
    const sess = await handshaken();
    expect(await sess.userauthList(f.user)).toEqual(expect.arrayContaining(['publickey', 'password']));
    const err = await sess.userauthPassword(f.user, 'wrong password').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    await sess.userauthPassword(f.user, f.password!);
    expect(sess.userauthAuthenticated()).toBe(true);
    expect((await sess.exec('id -un', { encoding: 'utf8' })).stdout).toBe(`${f.user}\n`);
  });

  it('connect(): known_hosts check (acceptNew, then a match), key from a path and as text', async () => {
    const kh = path.join(d.dir, 'known_hosts');
    const first = await connect({ host: '127.0.0.1', port: d.port, username: f.user, privateKey: f.keys.ed25519.private, knownHosts: kh, acceptNew: true });
    open.push(first);
    expect(fs.readFileSync(kh, 'utf8')).toContain(d.hostKeyLine);
    const again = await connect({ host: '127.0.0.1', port: d.port, username: f.user, privateKey: fs.readFileSync(f.keys.ed25519.private, 'utf8'), knownHosts: kh });
    open.push(again);
    expect((await again.exec('echo again', { encoding: 'utf8' })).stdout).toBe('again\n');
  });

  it('exec: stdout, stderr, exit code; a signal-less nonzero exit', async () => {
    expect(await s.exec('echo out; echo err >&2; exit 3', { encoding: 'utf8' })).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 3, signal: null });
    expect(await s.exec('true', { encoding: 'utf8' })).toEqual({ stdout: '', stderr: '', code: 0, signal: null });
    const big = await s.exec('head -c 3000000 /dev/zero | tr "\\0" x');
    expect(big.stdout.length).toBe(3000000);
    expect(big.stdout.equals(Buffer.alloc(3000000, 'x'))).toBe(true);
  });

  it('exec with stdin: 4 MiB through sha256sum, and cat back', async () => {
    const input = crypto.randomBytes(4 * 1024 * 1024);
    const r = await s.exec('sha256sum', { input, encoding: 'utf8' });
    expect(r).toEqual({ stdout: `${sha(input)}  -\n`, stderr: '', code: 0, signal: null });
    const small = crypto.randomBytes(300000);
    const back = await s.exec('cat', { input: small });
    expect(sha(back.stdout)).toBe(sha(small));
  }, 60000);

  it('channel API: exec, write, sendEof, read to EOF, exit status', async () => {
    const ch = await s.openSession();
    await ch.exec('tr a-z A-Z');
    await ch.write('hello dropbear\n');
    await ch.sendEof();
    const parts: Buffer[] = [];
    for (let b = await ch.read(); b.length > 0; b = await ch.read()) parts.push(b);
    expect(Buffer.concat(parts).toString()).toBe('HELLO DROPBEAR\n');
    await ch.close();
    expect(ch.getExitStatus()).toBe(0);
    await ch.free();
  });

  it('spawn + kill: Dropbear delivers the signal request; the exit signal is TERM', async () => {
    const proc = await s.spawn('echo started; exec sleep 30');
    const started = new Promise<string>((r) => proc.stdout.once('data', (b: Buffer) => r(b.toString())));
    proc.stderr.resume();
    expect(await started).toBe('started\n');
    proc.stdout.resume();
    const exited = new Promise<[number | null, string | null]>((r) => proc.once('exit', (code, sig) => r([code, sig])));
    expect(proc.kill('TERM')).toBe(true);
    expect(await exited).toEqual([null, 'TERM']);
  }, 30000);

  it('pty: exec with a pty sees a terminal of the asked size and TERM', async () => {
    const r = await s.exec('test -t 0 && echo tty; stty size; echo $TERM', { pty: { term: 'vt100', cols: 100, rows: 30 }, encoding: 'utf8' });
    expect(r.stdout.replace(/\r/g, '')).toBe('tty\n30 100\nvt100\n');
    expect(r.code).toBe(0);
  });

  it('keyboard-interactive: Dropbear does not offer it; the attempt fails with AuthenticationFailedError', async () => {
    const sess = await handshaken();
    const methods = await sess.userauthList(f.user);
    expect(methods).not.toContain('keyboard-interactive');
    const prompts: unknown[] = [];
    const err = await sess.userauthKeyboardInteractive(f.user, (_n, _i, p) => { prompts.push(p); return []; }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(prompts).toEqual([]);
    expect(sess.userauthAuthenticated()).toBe(false);
  });

  it('directStreamlocal: Dropbear has no streamlocal forwarding; the open is refused with ChannelFailureError', async () => {
    const err = await s.directStreamlocal('/tmp/libssh2-dropbear-no-such.sock').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChannelFailureError);
    // The session still works.
    expect((await s.exec('echo still', { encoding: 'utf8' })).stdout).toBe('still\n');
  });

  describe('SFTP (Dropbear runs the system sftp-server)', () => {
    let dir: string;
    beforeAll(async () => {
      dir = (await s.exec('mktemp -d /tmp/libssh2-dropbear-sftp-XXXXXXXX', { encoding: 'utf8' })).stdout.trim();
    });
    afterAll(async () => {
      if (dir) await s.exec(`rm -rf ${dir}`);
    });

    it('open/write/read/stat/readdir/rename/unlink', async () => {
      const sftp = await s.sftpInit();
      const data = crypto.randomBytes(200000);
      await sftp.writeFile(`${dir}/a`, data);
      expect(sha(await sftp.readFile(`${dir}/a`))).toBe(sha(data));
      expect((await sftp.stat(`${dir}/a`)).filesize).toBe(data.length);
      const h = await sftp.open(`${dir}/a`, LIBSSH2_FXF_READ, 0);
      expect((await h.read(10)).equals(data.subarray(0, 10))).toBe(true);
      await h.close();
      await sftp.rename(`${dir}/a`, `${dir}/b`);
      expect((await sftp.list(dir)).map((e) => [e.name, e.type, e.size])).toEqual([['b', '-', data.length]]);
      await sftp.unlink(`${dir}/b`);
      expect(await sftp.exists(`${dir}/b`)).toBe(false);
      expect(await sftp.realpath(`${dir}/.`)).toBe(dir);
      await sftp.shutdown();
    });

    it('fastPut and fastGet of 16 MiB, sha256 equal', async () => {
      const local = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-dropbear-local-'));
      try {
        const data = crypto.randomBytes(16 * 1024 * 1024);
        fs.writeFileSync(path.join(local, 'up'), data);
        const sftp = await s.sftpInit();
        await sftp.fastPut(path.join(local, 'up'), `${dir}/big`);
        expect((await s.exec(`sha256sum ${dir}/big`, { encoding: 'utf8' })).stdout).toBe(`${sha(data)}  ${dir}/big\n`);
        await sftp.fastGet(`${dir}/big`, path.join(local, 'down'));
        expect(sha(fs.readFileSync(path.join(local, 'down')))).toBe(sha(data));
        await sftp.shutdown();
      } finally {
        fs.rmSync(local, { recursive: true, force: true });
      }
    }, 120000);
  });

  describe('port forwarding', () => {
    let echo: net.Server;
    let echoPort: number;
    beforeAll(async () => {
      echo = net.createServer((c) => c.pipe(c));
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      echoPort = (echo.address() as net.AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise<void>((r) => echo.close(() => r()));
    });

    it('directTcpip to a local echo server: 4 MiB, sha256 equal', async () => {
      const ch = await s.directTcpip('127.0.0.1', echoPort);
      const data = crypto.randomBytes(4 * 1024 * 1024);
      expect(sha(await echoThrough(ch, data))).toBe(sha(data));
      await ch.close();
      await ch.free();
    }, 60000);

    it('remote forward: forwardListen(0) on 127.0.0.1, accept, echo both ways, cancel', async () => {
      const listener = await s.forwardListen(0, '127.0.0.1');
      expect(listener.boundPort).toBeGreaterThan(0);
      const accepting = listener.forwardAccept();
      const client = net.connect(listener.boundPort, '127.0.0.1');
      const ch = await accepting;
      const fromClient = ch.read();
      client.write('hello from the client');
      expect((await fromClient).toString()).toBe('hello from the client');
      const toClient = new Promise<string>((r) => client.once('data', (b: Buffer) => r(b.toString())));
      await ch.write('hello back');
      expect(await toClient).toBe('hello back');
      client.destroy();
      await ch.close().catch(() => undefined);
      await ch.free();
      await listener.forwardCancel();
    });
  });
});
