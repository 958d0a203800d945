import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import {
  Session, BadUseError, LIBSSH2_KNOWNHOST_TYPE_PLAIN, LIBSSH2_KNOWNHOST_KEYENC_RAW, LIBSSH2_KNOWNHOST_KEYENC_BASE64,
  LIBSSH2_KNOWNHOST_KEY_ED25519, LIBSSH2_KNOWNHOST_KEY_SSHRSA, LIBSSH2_KNOWNHOST_CHECK_MATCH,
  LIBSSH2_KNOWNHOST_CHECK_MISMATCH, LIBSSH2_KNOWNHOST_CHECK_NOTFOUND, LIBSSH2_METHOD_HOSTKEY,
} from '../lib';
import { fixture } from './fixtures';
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
