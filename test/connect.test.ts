import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import {
  connect, HostKeyUnknownError, HostKeyMismatchError, HostKeyRevokedError, HostKeyError, TimeoutError,
  AuthError, parseKnownHosts, checkHostKey, type ConnectOptions,
} from '../lib';
import { fixture, itIfRoot } from './fixtures';

const f = fixture();
const hostPub = (name: keyof typeof f.hostKeys) => fs.readFileSync(f.hostKeys[name].public, 'utf8').trim().split(/\s+/);
const entry = `[127.0.0.1]:${f.port}`;

describe('connect()', () => {
  let dir: string;
  let n = 0;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-connect-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function knownHosts(...lines: string[]): string {
    const file = path.join(dir, `kh${n++}`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    return file;
  }
  const base = (extra: Partial<ConnectOptions>): ConnectOptions => ({
    host: '127.0.0.1', port: f.port, username: f.user, privateKey: f.keys.ed25519.private, ...extra,
  });
  const ed = hostPub('ed25519');

  it('a known host with a key file: exec works', async () => {
    const s = await connect(base({ knownHosts: knownHosts(`# comment`, `garbage line`, `${entry} ${ed[0]} ${ed[1]}`) }));
    const r = await s.exec('echo hi; echo err >&2; exit 4');
    expect(r).toEqual({ stdout: Buffer.from('hi\n'), stderr: Buffer.from('err\n'), code: 4, signal: null });
    await s.close();
  });

  it('privateKey as a Buffer and as key text', async () => {
    const kh = knownHosts(`${entry} ${ed[0]} ${ed[1]}`);
    const key = fs.readFileSync(f.keys.ecdsa256.private);
    for (const privateKey of [key, key.toString('utf8')]) {
      const s = await connect(base({ knownHosts: kh, privateKey }));
      expect(s.userauthAuthenticated()).toBe(true);
      await s.close();
    }
  });

  it('a hashed entry matches', async () => {
    const salt = crypto.randomBytes(20);
    const hash = crypto.createHmac('sha1', salt).update(entry).digest('base64');
    const s = await connect(base({ knownHosts: knownHosts(`|1|${salt.toString('base64')}|${hash} ${ed[0]} ${ed[1]}`) }));
    await s.close();
  });

  it('an unknown host: HostKeyUnknownError; hostVerifier may accept it; acceptNew appends it', async () => {
    const empty = knownHosts('');
    const err = await connect(base({ knownHosts: empty })).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyUnknownError);
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.errno).toBeUndefined();
    expect(err.fingerprint).toMatch(/^SHA256:/);
    let seen = '';
    const s1 = await connect(base({ knownHosts: empty, hostVerifier: (i) => { seen = i.fingerprint; return true; } }));
    expect(seen).toBe(err.fingerprint);
    await s1.close();
    const s2 = await connect(base({ knownHosts: empty, acceptNew: true }));
    await s2.close();
    expect(fs.readFileSync(empty, 'utf8')).toContain(entry);
    const s3 = await connect(base({ knownHosts: empty })); // now known
    await s3.close();
  });

  it('a mismatch is refused, even when hostVerifier would accept', async () => {
    const other = Buffer.from(ed[1], 'base64');
    other[other.length - 1] ^= 1;
    const kh = knownHosts(`${entry} ${ed[0]} ${other.toString('base64')}`);
    await expect(connect(base({ knownHosts: kh, hostVerifier: () => true }))).rejects.toBeInstanceOf(HostKeyMismatchError);
  });

  it('a revoked key is refused', async () => {
    const kh = knownHosts(`${entry} ${ed[0]} ${ed[1]}`, `@revoked * ${ed[0]} ${ed[1]}`);
    await expect(connect(base({ knownHosts: kh }))).rejects.toBeInstanceOf(HostKeyRevokedError);
  });

  it('host-key algorithms follow what known_hosts holds (an ecdsa-384 entry gets that key)', async () => {
    const e384 = hostPub('ecdsa384');
    const s = await connect(base({ knownHosts: knownHosts(`${entry} ${e384[0]} ${e384[1]}`) }));
    expect(s.hostkey()!.key.toString('base64')).toBe(e384[1]);
    await s.close();
  });

  it('a wrong key fails with an AuthError; readyTimeout against a silent server', async () => {
    const kh = knownHosts(`${entry} ${ed[0]} ${ed[1]}`);
    await expect(connect(base({ knownHosts: kh, privateKey: f.keys.unauthorized.private }))).rejects.toBeInstanceOf(AuthError);
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const started = Date.now();
    const err = await connect(base({ port: (silent.address() as net.AddressInfo).port, knownHosts: kh, readyTimeout: 500 })).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(5000);
    silent.close();
  });

  itIfRoot('password authentication', async () => {
    const s = await connect({ host: '127.0.0.1', port: f.port, username: f.user, password: f.password!, knownHosts: knownHosts(`${entry} ${ed[0]} ${ed[1]}`) });
    expect((await s.exec('whoami')).stdout.toString().trim()).toBe(f.user);
    await s.close();
  });

  it('a jump host: the second session runs over a channel of the first', async () => {
    const kh = knownHosts(`${entry} ${ed[0]} ${ed[1]}`);
    const jump = await connect(base({ knownHosts: kh }));
    const inner = await connect(base({ knownHosts: kh, sock: await jump.directTcpip('127.0.0.1', f.port) }));
    expect((await inner.exec('echo through')).stdout.toString()).toBe('through\n');
    await inner.close();
    await jump.close();
  });

  it('exec: stdin piped through, 100 in parallel on one session, abort', async () => {
    const s = await connect(base({ knownHosts: knownHosts(`${entry} ${ed[0]} ${ed[1]}`) }));
    const input = crypto.randomBytes(1024 * 1024);
    const r = await s.exec('sha256sum', { input });
    expect(r.stdout.toString().split(' ')[0]).toBe(crypto.createHash('sha256').update(input).digest('hex'));
    const all = await Promise.all(Array.from({ length: 100 }, (_, i) => s.exec(`echo ${i}`)));
    all.forEach((x, i) => expect(x.stdout.toString()).toBe(`${i}\n`));
    const ac = new AbortController();
    const slow = s.exec('sleep 30', { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(slow).rejects.toMatchObject({ name: 'AbortError' });
    await s.close();
  }, 60000);
});

describe('known_hosts markers', () => {
  const f2 = fixture();
  const ed = hostPub('ed25519');
  const entry2 = `[127.0.0.1]:${f2.port}`;
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-markers-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const opts = (lines: string[]): ConnectOptions => {
    const file = path.join(dir, `kh${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(file, lines.join('\n') + '\n');
    return { host: '127.0.0.1', port: f2.port, username: f2.user, privateKey: f2.keys.ed25519.private, knownHosts: file };
  };

  it('@cert-authority lines are skipped: the host key itself as a CA neither matches nor mismatches', async () => {
    // libssh2 cannot present host certificates, so a CA line can vouch for nothing here.
    await expect(connect(opts([`@cert-authority ${entry2} ${ed[0]} ${ed[1]}`]))).rejects.toBeInstanceOf(HostKeyUnknownError);
    const other = Buffer.from(ed[1], 'base64');
    other[other.length - 1] ^= 1;
    const s = await connect(opts([`@cert-authority * ${ed[0]} ${other.toString('base64')}`, `${entry2} ${ed[0]} ${ed[1]}`]));
    await s.close();
  });

  it('@revoked wins over a matching entry, also for a hashed one; a hashed entry with another key is a mismatch', async () => {
    const salt = crypto.randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${crypto.createHmac('sha1', salt).update(entry2).digest('base64')}`;
    const err = await connect(opts([`${hashed} ${ed[0]} ${ed[1]}`, `@revoked ${hashed} ${ed[0]} ${ed[1]}`])).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyRevokedError);
    expect(err.message).toMatch(/revoked/);
    const other = Buffer.from(ed[1], 'base64');
    other[other.length - 1] ^= 1;
    await expect(connect(opts([`${hashed} ${ed[0]} ${other.toString('base64')}`]))).rejects.toBeInstanceOf(HostKeyMismatchError);
  });

  it('parseKnownHosts keeps markers, skips unknown markers and short lines', () => {
    const lines = parseKnownHosts([
      `@cert-authority *.example ${ed[0]} ${ed[1]}`,
      `@revoked host1 ${ed[0]} ${ed[1]} comment`,
      `@future host2 ${ed[0]} ${ed[1]}`,
      `host3 ${ed[0]}`,
      `  # comment`,
      `host4,!bad ${ed[0]} ${ed[1]}`,
    ].join('\n'));
    expect(lines.map((l) => [l.marker, l.patterns, l.line])).toEqual([
      ['@cert-authority', '*.example', 1], ['@revoked', 'host1', 2], ['', 'host4,!bad', 6],
    ]);
    const key = Buffer.from(ed[1], 'base64');
    expect(checkHostKey(lines, 'a.example', 22, ed[0], key)).toEqual({ status: 'revoked', line: lines[1] });
    expect(checkHostKey(lines.filter((l) => l.marker !== '@revoked'), 'a.example', 22, ed[0], key)).toEqual({ status: 'unknown' });
    expect(checkHostKey(lines.filter((l) => l.marker !== '@revoked'), 'host4', 22, ed[0], key).status).toBe('match');
  });
});
