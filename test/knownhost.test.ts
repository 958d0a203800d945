import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import {
  Session, BadUseError, LIBSSH2_KNOWNHOST_TYPE_PLAIN, LIBSSH2_KNOWNHOST_KEYENC_RAW, LIBSSH2_KNOWNHOST_KEYENC_BASE64,
  LIBSSH2_KNOWNHOST_KEY_ED25519, LIBSSH2_KNOWNHOST_KEY_SSHRSA, LIBSSH2_KNOWNHOST_CHECK_MATCH,
  LIBSSH2_KNOWNHOST_CHECK_MISMATCH, LIBSSH2_KNOWNHOST_CHECK_NOTFOUND, LIBSSH2_METHOD_HOSTKEY,
  LIBSSH2_KNOWNHOST_TYPE_SHA1, LIBSSH2_KNOWNHOST_TYPE_CUSTOM, LIBSSH2_KNOWNHOST_TYPE_MASK, LIBSSH2_KNOWNHOST_KEYENC_MASK,
  LIBSSH2_KNOWNHOST_KEY_MASK, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
  LIBSSH2_KNOWNHOST_KEY_ECDSA_521, type KnownHosts,
} from '../lib';
import { fixture, type HostKeyName } from './fixtures';
import { handshaken } from './helpers/connect';

const f = fixture();

describe('KnownHosts', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-kh-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('checkp of the server key: not found, then match after addc, mismatch for another key', async () => {
    const s = await handshaken((x) => x.methodPref(LIBSSH2_METHOD_HOSTKEY, 'ssh-ed25519'));
    const kh = s.knownhostInit();
    const { key } = s.hostkey()!;
    const mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | LIBSSH2_KNOWNHOST_KEY_ED25519;
    const host = `[127.0.0.1]:${f.port}`;
    expect(kh.checkp('127.0.0.1', f.port, key, mask).result).toBe(LIBSSH2_KNOWNHOST_CHECK_NOTFOUND);
    const entry = kh.addc(host, key, mask, undefined, 'fixture');
    expect(entry.name).toBe(host);
    expect(entry.key).toBe(key.toString('base64'));
    const check = kh.checkp('127.0.0.1', f.port, key, mask);
    expect(check.result).toBe(LIBSSH2_KNOWNHOST_CHECK_MATCH);
    expect(check.host!.name).toBe(host);
    const other = Buffer.from(key);
    other[other.length - 1] ^= 1;
    expect(kh.checkp('127.0.0.1', f.port, other, mask).result).toBe(LIBSSH2_KNOWNHOST_CHECK_MISMATCH);
    kh.free();
    await s.close();
  });

  it('readfile, writefile, readline, writeline, get, del', async () => {
    const s = new Session();
    const kh = s.knownhostInit();
    const lines = [
      `[127.0.0.1]:${f.port} ${fs.readFileSync(f.hostKeys.ed25519.public, 'utf8').split(' ').slice(0, 2).join(' ')}`,
      `example.org ${fs.readFileSync(f.hostKeys.rsa.public, 'utf8').split(' ').slice(0, 2).join(' ')}`,
    ];
    const file = path.join(dir, 'known_hosts');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    expect(kh.readfile(file)).toBe(2);
    const all = kh.get();
    expect(all.map((e) => e.name)).toEqual([`[127.0.0.1]:${f.port}`, 'example.org']);
    expect(all[1].typemask & LIBSSH2_KNOWNHOST_KEY_SSHRSA).toBe(LIBSSH2_KNOWNHOST_KEY_SSHRSA);
    expect(kh.writeline(all[1]).trim()).toBe(lines[1]);
    kh.del(all[0]);
    expect(() => kh.del(all[0])).toThrow(BadUseError); // deleted entry
    expect(kh.get().length).toBe(1);
    kh.readline(lines[0]);
    expect(kh.get().length).toBe(2);
    const out = path.join(dir, 'written');
    kh.writefile(out);
    expect(fs.readFileSync(out, 'utf8').trim().split('\n').sort()).toEqual([...lines].sort());
    // An entry of another collection is refused.
    const other = s.knownhostInit();
    expect(() => other.del(kh.get()[0])).toThrow(BadUseError);
    expect(() => kh.addc('h', 'not base64 key', LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | LIBSSH2_KNOWNHOST_KEY_ED25519)).not.toThrow();
    kh.free();
    kh.free();
    expect(() => kh.get()).toThrow(BadUseError);
    await s.free(); // frees `other` first (it uses the session's allocator)
    expect(() => other.get()).toThrow(BadUseError);
  });
});

/** The fixture's host key types: the algorithm to ask for, the known_hosts key name and libssh2's KEY_ bits. */
const HOST_KEY_TYPES: { name: HostKeyName; algo: string; keyType: string; mask: number }[] = [
  { name: 'rsa', algo: 'rsa-sha2-512', keyType: 'ssh-rsa', mask: LIBSSH2_KNOWNHOST_KEY_SSHRSA },
  { name: 'ecdsa256', algo: 'ecdsa-sha2-nistp256', keyType: 'ecdsa-sha2-nistp256', mask: LIBSSH2_KNOWNHOST_KEY_ECDSA_256 },
  { name: 'ecdsa384', algo: 'ecdsa-sha2-nistp384', keyType: 'ecdsa-sha2-nistp384', mask: LIBSSH2_KNOWNHOST_KEY_ECDSA_384 },
  { name: 'ecdsa521', algo: 'ecdsa-sha2-nistp521', keyType: 'ecdsa-sha2-nistp521', mask: LIBSSH2_KNOWNHOST_KEY_ECDSA_521 },
  { name: 'ed25519', algo: 'ssh-ed25519', keyType: 'ssh-ed25519', mask: LIBSSH2_KNOWNHOST_KEY_ED25519 },
];
const PLAIN_RAW = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW;

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('KnownHosts against known_hosts files of OpenSSH tools', () => {
  let dir: string;
  let plainFile: string;
  let hashedFile: string;
  let scanned: string[];
  /** The key each host key type's handshake got from the fixture. */
  const served = new Map<HostKeyName, Buffer>();
  const entry = () => `[127.0.0.1]:${f.port}`;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-kh-openssh-'));
    for (const t of HOST_KEY_TYPES) {
      const s = await handshaken((x) => x.methodPref(LIBSSH2_METHOD_HOSTKEY, t.algo));
      served.set(t.name, s.hostkey()!.key);
      await s.close();
    }
    // ssh-keyscan fetches one key per type class (rsa, ecdsa, ed25519): the ECDSA curves it
    // did not fetch are added as OpenSSH's own .pub lines of the fixture, under the same name.
    const scan = run('ssh-keyscan', ['-p', String(f.port), '-t', 'rsa,ecdsa,ed25519', '127.0.0.1']);
    expect(scan.status).toBe(0);
    scanned = scan.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(scanned.length).toBeGreaterThanOrEqual(3);
    const lines = [...scanned];
    for (const t of HOST_KEY_TYPES) {
      if (!scanned.some((l) => l.split(' ')[1] === t.keyType)) {
        lines.push(`${entry()} ${fs.readFileSync(f.hostKeys[t.name].public, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ')}`);
      }
    }
    plainFile = path.join(dir, 'known_hosts_plain');
    fs.writeFileSync(plainFile, lines.join('\n') + '\n');
    hashedFile = path.join(dir, 'known_hosts_hashed');
    fs.copyFileSync(plainFile, hashedFile);
    const hash = run('ssh-keygen', ['-H', '-f', hashedFile]);
    expect(hash.status).toBe(0);
  }, 60000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ssh-keyscan reports the fixture\'s real keys as [127.0.0.1]:port entries', () => {
    for (const line of scanned) {
      const [host, keyType, key] = line.split(' ');
      expect(host).toBe(entry());
      const t = HOST_KEY_TYPES.find((x) => x.keyType === keyType)!;
      expect(t).toBeDefined();
      expect(key).toBe(served.get(t.name)!.toString('base64'));
    }
    expect(new Set(scanned.map((l) => l.split(' ')[1].replace(/nistp\d+/, ''))).size).toBe(3); // rsa, ecdsa, ed25519
  });

  for (const variant of ['plain', 'hashed'] as const) {
    describe(`${variant} file`, () => {
      let s: Session;
      let kh: KnownHosts;
      beforeAll(() => {
        s = new Session();
        kh = s.knownhostInit();
        expect(kh.readfile(variant === 'plain' ? plainFile : hashedFile)).toBe(HOST_KEY_TYPES.length);
      });
      afterAll(async () => {
        kh.free();
        await s.free();
      });

      it('entries: host type, key encoding and key type bits as read', () => {
        const all = kh.get();
        expect(all).toHaveLength(HOST_KEY_TYPES.length);
        for (const e of all) {
          expect(e.typemask & LIBSSH2_KNOWNHOST_TYPE_MASK).toBe(variant === 'plain' ? LIBSSH2_KNOWNHOST_TYPE_PLAIN : LIBSSH2_KNOWNHOST_TYPE_SHA1);
          expect(e.name).toBe(variant === 'plain' ? entry() : null);
          expect(e.typemask & LIBSSH2_KNOWNHOST_KEYENC_MASK).toBe(LIBSSH2_KNOWNHOST_KEYENC_BASE64);
        }
        const masks = all.map((e) => e.typemask & LIBSSH2_KNOWNHOST_KEY_MASK).sort();
        expect(masks).toEqual(HOST_KEY_TYPES.map((t) => t.mask).sort());
        for (const e of all) {
          const t = HOST_KEY_TYPES.find((x) => x.mask === (e.typemask & LIBSSH2_KNOWNHOST_KEY_MASK))!;
          expect(e.key).toBe(served.get(t.name)!.toString('base64'));
        }
        if (variant === 'hashed') {
          // writeline gives back ssh-keygen's hashed lines (salt and hash kept).
          const written = all.map((e) => kh.writeline(e).trim()).sort();
          expect(written).toEqual(fs.readFileSync(hashedFile, 'utf8').trim().split('\n').sort());
        }
      });

      for (const t of HOST_KEY_TYPES) {
        it(`${t.name}: match, mismatch (another ${t.keyType} key), notfound (another host or port)`, () => {
          const key = served.get(t.name)!;
          const match = kh.checkp('127.0.0.1', f.port, key, PLAIN_RAW | t.mask);
          expect(match.result).toBe(LIBSSH2_KNOWNHOST_CHECK_MATCH);
          expect(match.host!.key).toBe(key.toString('base64'));
          // The key base64 (KEYENC_BASE64), and with no key type bits (any type): a match too.
          expect(kh.checkp('127.0.0.1', f.port, key.toString('base64'), LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | t.mask).result)
            .toBe(LIBSSH2_KNOWNHOST_CHECK_MATCH);
          expect(kh.checkp('127.0.0.1', f.port, key, PLAIN_RAW).result).toBe(LIBSSH2_KNOWNHOST_CHECK_MATCH);
          // Another real key of that type: the fixture's user key.
          const other = Buffer.from(fs.readFileSync(f.keys[t.name].public, 'utf8').split(' ')[1], 'base64');
          expect(other.equals(key)).toBe(false);
          const mismatch = kh.checkp('127.0.0.1', f.port, other, PLAIN_RAW | t.mask);
          expect(mismatch.result).toBe(LIBSSH2_KNOWNHOST_CHECK_MISMATCH);
          expect(mismatch.host!.key).toBe(key.toString('base64')); // the entry it differs from
          expect(kh.checkp('127.0.0.2', f.port, key, PLAIN_RAW | t.mask).result).toBe(LIBSSH2_KNOWNHOST_CHECK_NOTFOUND);
          expect(kh.checkp('127.0.0.1', f.port + 1, key, PLAIN_RAW | t.mask).result).toBe(LIBSSH2_KNOWNHOST_CHECK_NOTFOUND);
          expect(kh.checkp('127.0.0.1', -1, key, PLAIN_RAW | t.mask).result).toBe(LIBSSH2_KNOWNHOST_CHECK_NOTFOUND); // no port: plain "127.0.0.1"
          // Asked as another key type: that type's entry holds another key, a mismatch.
          const otherType = HOST_KEY_TYPES.find((x) => x.mask !== t.mask)!;
          expect(kh.checkp('127.0.0.1', f.port, key, PLAIN_RAW | otherType.mask).result).toBe(LIBSSH2_KNOWNHOST_CHECK_MISMATCH);
          // A hashed host name cannot be an input (libssh2 answers MISMATCH); custom names only match custom entries.
          expect(kh.checkp('127.0.0.1', f.port, key, LIBSSH2_KNOWNHOST_TYPE_SHA1 | LIBSSH2_KNOWNHOST_KEYENC_RAW | t.mask).result)
            .toBe(LIBSSH2_KNOWNHOST_CHECK_MISMATCH);
          expect(kh.checkp('127.0.0.1', f.port, key, LIBSSH2_KNOWNHOST_TYPE_CUSTOM | LIBSSH2_KNOWNHOST_KEYENC_RAW | t.mask).result)
            .toBe(LIBSSH2_KNOWNHOST_CHECK_NOTFOUND);
        });
      }
    });
  }

  it('addc (plain, SHA1-hashed, base64 key) + writefile: ssh-keygen -F finds each host; custom entries match custom names only', async () => {
    const s = new Session();
    const kh = s.knownhostInit();
    for (const t of HOST_KEY_TYPES) kh.addc(entry(), served.get(t.name)!, PLAIN_RAW | t.mask, undefined, `fixture ${t.name}`);
    // A hashed entry for another name, the way OpenSSH hashes: HMAC-SHA1 keyed with the salt.
    const other = `[127.0.0.3]:${f.port}`;
    const salt = crypto.randomBytes(20);
    const hashed = crypto.createHmac('sha1', salt).update(other).digest('base64');
    const ed = served.get('ed25519')!;
    kh.addc(hashed, ed.toString('base64'), LIBSSH2_KNOWNHOST_TYPE_SHA1 | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | LIBSSH2_KNOWNHOST_KEY_ED25519, salt.toString('base64'));
    expect(kh.checkp('127.0.0.3', f.port, ed, PLAIN_RAW | LIBSSH2_KNOWNHOST_KEY_ED25519).result).toBe(LIBSSH2_KNOWNHOST_CHECK_MATCH);
    // TYPE_CUSTOM: the name is compared as given, only against custom input.
    const custom = kh.addc('custom-id-1', ed, LIBSSH2_KNOWNHOST_TYPE_CUSTOM | LIBSSH2_KNOWNHOST_KEYENC_RAW | LIBSSH2_KNOWNHOST_KEY_ED25519);
    expect(custom.typemask & LIBSSH2_KNOWNHOST_TYPE_MASK).toBe(LIBSSH2_KNOWNHOST_TYPE_CUSTOM);
    expect(kh.checkp('custom-id-1', -1, ed, LIBSSH2_KNOWNHOST_TYPE_CUSTOM | LIBSSH2_KNOWNHOST_KEYENC_RAW | LIBSSH2_KNOWNHOST_KEY_ED25519).result)
      .toBe(LIBSSH2_KNOWNHOST_CHECK_MATCH);
    expect(kh.checkp('custom-id-1', -1, ed, PLAIN_RAW | LIBSSH2_KNOWNHOST_KEY_ED25519).result).toBe(LIBSSH2_KNOWNHOST_CHECK_NOTFOUND);
    kh.del(custom);
    const out = path.join(dir, 'written_by_libssh2');
    kh.writefile(out);
    const text = fs.readFileSync(out, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(HOST_KEY_TYPES.length + 1);
    expect(text).toContain(`|1|${salt.toString('base64')}|${hashed} ssh-ed25519 ${ed.toString('base64')}`);

    const found = run('ssh-keygen', ['-F', entry(), '-f', out]);
    expect(found.status).toBe(0);
    for (const t of HOST_KEY_TYPES) {
      expect(found.stdout).toContain(`${entry()} ${t.keyType} ${served.get(t.name)!.toString('base64')} fixture ${t.name}`);
    }
    const foundHashed = run('ssh-keygen', ['-F', other, '-f', out]);
    expect(foundHashed.status).toBe(0);
    expect(foundHashed.stdout).toContain(`Host ${other} found`);
    expect(foundHashed.stdout).toContain(ed.toString('base64'));
    const missing = run('ssh-keygen', ['-F', `[127.0.0.2]:${f.port}`, '-f', out]);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toBe('');
    // And OpenSSH hashes libssh2's file without complaint; libssh2 reads it back, all matching.
    const rehashed = path.join(dir, 'written_rehashed');
    fs.copyFileSync(out, rehashed);
    expect(run('ssh-keygen', ['-H', '-f', rehashed]).status).toBe(0);
    const back = s.knownhostInit();
    expect(back.readfile(rehashed)).toBe(HOST_KEY_TYPES.length + 1);
    for (const t of HOST_KEY_TYPES) {
      expect(back.checkp('127.0.0.1', f.port, served.get(t.name)!, PLAIN_RAW | t.mask).result).toBe(LIBSSH2_KNOWNHOST_CHECK_MATCH);
    }
    expect(back.checkp('127.0.0.3', f.port, ed, PLAIN_RAW | LIBSSH2_KNOWNHOST_KEY_ED25519).result).toBe(LIBSSH2_KNOWNHOST_CHECK_MATCH);
    back.free();
    kh.free();
    await s.free();
  });
});

describe('environment teardown with open objects', () => {
  it('a Worker that exits with sessions, channels, SFTP handles, listeners and known hosts open does not crash', async () => {
    const register = path.join(__dirname, '..', 'scripts', 'register-ts.js');
    const lib = path.join(__dirname, '..', 'lib');
    const code = `
      require(${JSON.stringify(register)});
      const net = require('net');
      const { parentPort } = require('worker_threads');
      const { Session, LIBSSH2_FXF_READ } = require(${JSON.stringify(lib)});
      (async () => {
        const sessions = [];
        for (let i = 0; i < 3; i++) {
          const sock = net.connect(${f.port}, '127.0.0.1');
          await new Promise((r) => sock.once('connect', r));
          const s = new Session();
          await s.handshake(sock);
          await s.userauthPublickeyFromfile(${JSON.stringify(f.user)}, ${JSON.stringify(f.keys.ed25519.private)});
          const ch = await s.openSession();
          await ch.exec('sleep 30');
          ch.read().catch(() => {});
          const sftp = await s.sftpInit();
          const h = await sftp.open('.', 0, 0).catch(() => null);
          await sftp.opendir('.');
          const l = await s.forwardListen(0, '127.0.0.1');
          l.forwardAccept().catch(() => {});
          s.knownhostInit();
          sessions.push({ s, ch, sftp, h, l });
        }
        parentPort.postMessage('ready');
      })().catch((e) => parentPort.postMessage('error ' + e.stack));
    `;
    const w = new Worker(code, { eval: true });
    const msg = await new Promise<string>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(msg).toBe('ready');
    const exitCode = await w.terminate();
    expect(exitCode).toBe(1); // terminated, not crashed (a crash would take this process down)
    // This process is fine and still talks SSH.
    const s = await handshaken();
    await s.close();
  }, 60000);
});
