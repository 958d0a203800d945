/**
 * connect({ jump }) through a second fixture sshd, and connect({ config }) with ~/.ssh/config
 * (a temporary HOME) including ProxyJump.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { connect, HostKeyUnknownError, type ConnectOptions } from '../lib';
import { readSshConfig, parseHostSpec } from '../lib/sshconfig';
import { fixture, startSshd, stopSshd, type SshdFixture } from './fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f = fixture();

/** How often sshd logged `what` (LogLevel VERBOSE). */
function count(fx: SshdFixture, what: RegExp): number {
  return (fs.readFileSync(fx.logFile, 'utf8').match(new RegExp(what.source, 'g')) ?? []).length;
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, ms = 10000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (cond()) return true;
  return cond();
}

describe('jump hosts and ~/.ssh/config', () => {
  let j: SshdFixture; // the jump host: a second sshd
  let dir: string;
  let kh: string;
  const pub = (fx: SshdFixture) => fs.readFileSync(fx.hostKeys.ed25519.public, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  beforeAll(async () => {
    // The jump host accepts the run fixture's user keys: string hops take the target's key.
    j = await startSshd({ extraConfig: [`AuthorizedKeysFile ${f.authorizedKeysFile}`] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-jump-'));
    kh = path.join(dir, 'known_hosts');
    fs.writeFileSync(kh, `[127.0.0.1]:${f.port} ${pub(f)}\n[127.0.0.1]:${j.port} ${pub(j)}\n`);
  }, 120000);
  afterAll(async () => {
    await stopSshd(j);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const target = (extra: Partial<ConnectOptions> = {}): ConnectOptions => ({
    host: '127.0.0.1', port: f.port, username: f.user, privateKey: f.keys.ed25519.private, knownHosts: kh, ...extra,
  });
  const logins = () => count(j, /Accepted publickey/);
  const ends = () => count(j, /Disconnected from user|Connection closed by|Received disconnect from/);

  it('jump: [options]: the target is reached through the jump host; closing it closes the hop', async () => {
    const before = logins();
    const endsBefore = ends();
    const s = await connect(target({
      jump: [{ host: '127.0.0.1', port: j.port, username: j.user, privateKey: f.keys.ecdsa256.private, knownHosts: kh }],
    }));
    expect(logins()).toBe(before + 1);
    expect((await s.exec('echo through')).stdout.toString()).toBe('through\n');
    await s.close();
    expect(await until(() => ends() > endsBefore)).toBe(true);
  });

  it('jump: ["user@host:port", ...]: string hops take the target\'s key and known_hosts; two hops', async () => {
    const before = logins();
    const hop = `${j.user}@127.0.0.1:${j.port}`;
    const s = await connect(target({ jump: [hop, hop] }));
    expect(logins()).toBe(before + 2);
    const r = await Promise.all(Array.from({ length: 10 }, (_, i) => s.exec(`echo ${i}`)));
    r.forEach((x, i) => expect(x.stdout.toString()).toBe(`${i}\n`));
    await s.close();
  });

  it('a failing target frees the hops; bad jump specs are refused', async () => {
    const endsBefore = ends();
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    const err = await connect(target({
      knownHosts: empty,
      jump: [{ host: '127.0.0.1', port: j.port, username: j.user, privateKey: f.keys.ed25519.private, knownHosts: kh }],
    })).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyUnknownError);
    expect(await until(() => ends() > endsBefore)).toBe(true);
    await expect(connect(target({ jump: ['user@:22'] }))).rejects.toBeInstanceOf(RangeError);
    await expect(connect(target({ jump: 'x' as unknown as string[] }))).rejects.toBeInstanceOf(TypeError);
    expect(parseHostSpec('ssh://me@[::1]:2222')).toEqual({ host: '::1', port: 2222, username: 'me' });
    expect(parseHostSpec('host')).toEqual({ host: 'host', port: undefined, username: undefined });
  });

  it('an AbortSignal stops connect()', async () => {
    await expect(connect(target({ signal: AbortSignal.abort() }))).rejects.toMatchObject({ name: 'AbortError' });
    const ac = new AbortController();
    const p = connect(target({ signal: ac.signal, jump: [`${j.user}@127.0.0.1:${j.port}`] }));
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });

  describe('config (a temporary HOME)', () => {
    let home: string;
    let oldHome: string | undefined;
    beforeAll(() => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-home-'));
      fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
      fs.copyFileSync(f.keys.ed25519.private, path.join(home, '.ssh', 'id_target'));
      fs.copyFileSync(f.keys.ecdsa384.private, path.join(home, 'id_jump'));
      fs.chmodSync(path.join(home, '.ssh', 'id_target'), 0o600);
      fs.chmodSync(path.join(home, 'id_jump'), 0o600);
      fs.copyFileSync(kh, path.join(home, '.ssh', 'kh'));
      fs.writeFileSync(path.join(home, '.ssh', 'config'), [
        '# test configuration',
        'Host tgt-* !tgt-direct',
        '  ProxyJump jumper',
        'Host tgt-*',
        '  HostName 127.0.0.1',
        `  Port ${f.port}`,
        `  User ${f.user}`,
        '  IdentityFile ~/.ssh/missing',
        '  IdentityFile ~/.ssh/id_target',
        '  UserKnownHostsFile ~/.ssh/kh',
        '  ServerAliveInterval 1',
        'Host jumper',
        '  HostName 127.0.0.1',
        `  Port ${j.port}`,
        `  User ${j.user}`,
        '  IdentityFile %d/id_jump',
        '  UserKnownHostsFile ~/.ssh/kh',
        'Host *',
        '  Port 1',
        '  User nobody-here',
        '',
      ].join('\n'));
      oldHome = process.env.HOME;
      process.env.HOME = home;
    });
    afterAll(() => {
      if (oldHome === undefined) delete process.env.HOME;
      else process.env.HOME = oldHome;
      fs.rmSync(home, { recursive: true, force: true });
    });

    it('Host patterns with wildcards and negation; first value wins; ~ and %d expanded', () => {
      const file = path.join(home, '.ssh', 'config');
      const a = readSshConfig(file, 'tgt-a');
      expect(a).toEqual({
        host: '127.0.0.1', port: f.port, user: f.user,
        identityFiles: [path.join(home, '.ssh', 'missing'), path.join(home, '.ssh', 'id_target')],
        proxyJump: ['jumper'], userKnownHostsFiles: [path.join(home, '.ssh', 'kh')], serverAliveInterval: 1,
        serverAliveCountMax: undefined,
      });
      expect(readSshConfig(file, 'tgt-direct').proxyJump).toBeUndefined();
      expect(readSshConfig(file, 'jumper').identityFiles).toEqual([path.join(home, 'id_jump')]);
      expect(readSshConfig(file, 'other')).toMatchObject({ host: 'other', port: 1, user: 'nobody-here' });
      expect(readSshConfig(path.join(home, 'nonexistent'), 'x')).toEqual({ host: 'x', identityFiles: [] });
    });

    it('config: true with ProxyJump: through the jump host, keys and known_hosts from the config', async () => {
      const before = logins();
      const s = await connect({ host: 'tgt-a', config: true });
      expect(logins()).toBe(before + 1); // through the jump host
      expect((await s.exec('whoami')).stdout.toString().trim()).toBe(f.user);
      // ServerAliveInterval 1: keepalives (every 2 s) keep bytes arriving on an idle session.
      await sleep(4500);
      expect(s.native.state().recvIdleMs).toBeLessThan(4400);
      await s.close();
    }, 30000);

    it('config as a path; explicit options win; tgt-direct connects without the jump host', async () => {
      const before = logins();
      const s = await connect({ host: 'tgt-direct', config: path.join(home, '.ssh', 'config'), username: f.user });
      expect(logins()).toBe(before);
      expect((await s.exec('echo direct')).stdout.toString()).toBe('direct\n');
      await s.close();
      // An explicit port wins over the configuration's (port 1: refused at once).
      await expect(connect({ host: 'tgt-direct', config: true, port: 1, readyTimeout: 5000 })).rejects.toThrow();
    });
  });
});
