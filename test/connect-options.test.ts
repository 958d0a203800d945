/**
 * connect() options beyond the basics: agentForward, agent, tryKeyboard, algorithms, and a
 * partial success (a second sshd with `AuthenticationMethods publickey,password`).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  connect, AuthError, AuthenticationFailedError, type ConnectOptions, type Session,
  LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC, LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC,
  LIBSSH2_METHOD_KEX, LIBSSH2_METHOD_HOSTKEY,
} from '../lib';
import { fixture, itIfRoot, describeIfRoot, startSshd, stopSshd, type SshdFixture } from './fixtures';

const f = fixture();
const hostLine = (fx: SshdFixture, name: keyof SshdFixture['hostKeys']) =>
  `[127.0.0.1]:${fx.port} ${fs.readFileSync(fx.hostKeys[name].public, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ')}`;

let dir: string;
let kh: string;

/** Starts `ssh-agent -D -a <sock>` and waits (bounded) for its socket. */
async function startAgent(sock: string): Promise<ChildProcess> {
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  if (!fs.existsSync(sock)) throw new Error(`ssh-agent did not create ${sock}`);
  return agent;
}

function fingerprintOf(pub: string): string {
  const fp = spawnSync('ssh-keygen', ['-lf', pub], { encoding: 'utf8', timeout: 20000 });
  const v = fp.stdout.split(' ')[1]; // "256 SHA256:... comment (ECDSA)"
  expect(v).toMatch(/^SHA256:/);
  return v;
}

/** Runs `fn` with SSH_AUTH_SOCK set to `sock` (restored after). */
async function withAuthSock<T>(sock: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.SSH_AUTH_SOCK;
  if (sock === undefined) delete process.env.SSH_AUTH_SOCK;
  else process.env.SSH_AUTH_SOCK = sock;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
    else process.env.SSH_AUTH_SOCK = saved;
  }
}

let agentSock: string; // holds the ecdsa256 user key
let emptySock: string; // holds no key
let agents: ChildProcess[] = [];
let fingerprint: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-connopts-'));
  kh = path.join(dir, 'known_hosts');
  fs.writeFileSync(kh, ['ed25519', 'ecdsa256', 'ecdsa384', 'ecdsa521', 'rsa'].map((n) => hostLine(f, n as 'rsa')).join('\n') + '\n');
  agentSock = path.join(dir, 'agent.sock');
  emptySock = path.join(dir, 'empty.sock');
  agents = [await startAgent(agentSock), await startAgent(emptySock)];
  const add = spawnSync('ssh-add', [f.keys.ecdsa256.private], { env: { ...process.env, SSH_AUTH_SOCK: agentSock }, encoding: 'utf8', timeout: 20000 });
  expect(add.status).toBe(0);
  fingerprint = fingerprintOf(f.keys.ecdsa256.public);
}, 60000);

afterAll(() => {
  for (const a of agents) a.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

const base = (extra: Partial<ConnectOptions>): ConnectOptions => ({
  host: '127.0.0.1', port: f.port, username: f.user, knownHosts: kh, readyTimeout: 30000, ...extra,
});

async function closing<T>(s: Session, fn: (s: Session) => Promise<T>): Promise<T> {
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe('connect({ agentForward })', () => {
  it('a socket path: ssh-add -l through exec lists the local agent\'s key, on every exec and spawn', async () => {
    await closing(await connect(base({ privateKey: f.keys.ed25519.private, agentForward: agentSock })), async (s) => {
      s.setTimeout(30000);
      expect(s.forwardAgent).toBe(true);
      const r1 = await s.exec('ssh-add -l');
      expect(r1.stderr.toString()).toBe('');
      expect(r1.code).toBe(0);
      expect(r1.stdout.toString()).toContain(fingerprint);
      // sshd refuses a second auth-agent-req on the connection: ignored, the forwarding stays.
      const r2 = await s.exec('ssh-add -l');
      expect(r2.code).toBe(0);
      expect(r2.stdout.toString()).toContain(fingerprint);
      const p = await s.spawn('ssh-add -l');
      let out = '';
      p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
      p.stderr.resume();
      p.stdin.end();
      const code = await new Promise<number | null>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('spawn: no close within 20 s')), 20000);
        p.once('close', (c) => { clearTimeout(t); resolve(c); });
      });
      expect(code).toBe(0);
      expect(out).toContain(fingerprint);
    });
  }, 60000);

  it('true: the agent of $SSH_AUTH_SOCK', async () => {
    const s = await withAuthSock(agentSock, () => connect(base({ privateKey: f.keys.ed25519.private, agentForward: true })));
    await closing(s, async () => {
      s.setTimeout(30000);
      const r = await s.exec('ssh-add -l');
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toContain(fingerprint);
    });
  }, 60000);

  it('without it no agent reaches the server; bad values are refused', async () => {
    await closing(await connect(base({ privateKey: f.keys.ed25519.private })), async (s) => {
      s.setTimeout(30000);
      expect(s.forwardAgent).toBe(false);
      const r = await s.exec('ssh-add -l');
      expect(r.code).not.toBe(0);
      expect(r.stdout.toString()).not.toContain(fingerprint);
    });
    await expect(withAuthSock(undefined, () => connect(base({ privateKey: f.keys.ed25519.private, agentForward: true }))))
      .rejects.toThrow(/SSH_AUTH_SOCK/);
    await expect(connect(base({ agentForward: 3 as unknown as string }))).rejects.toBeInstanceOf(TypeError);
    await expect(connect(base({ agent: '' }))).rejects.toBeInstanceOf(TypeError);
    await expect(withAuthSock(undefined, () => connect(base({ agent: true })))).rejects.toThrow(/SSH_AUTH_SOCK/);
  }, 60000);
});

describe('connect({ agent })', () => {
  it('a socket path: authenticates with the agent\'s key alone', async () => {
    await closing(await connect(base({ agent: agentSock })), async (s) => {
      expect(s.userauthAuthenticated()).toBe(true);
      expect((await s.exec('whoami')).stdout.toString().trim()).toBe(f.user);
    });
  }, 30000);

  it('true: the agent of $SSH_AUTH_SOCK', async () => {
    const s = await withAuthSock(agentSock, () => connect(base({ agent: true })));
    await closing(s, async () => expect(s.userauthAuthenticated()).toBe(true));
  }, 30000);

  it('an agent without keys: an AuthError, the session freed', async () => {
    await expect(connect(base({ agent: emptySock }))).rejects.toBeInstanceOf(AuthError);
    await expect(withAuthSock(emptySock, () => connect(base({ agent: true })))).rejects.toBeInstanceOf(AuthError);
  }, 30000);
});

describe('connect({ tryKeyboard })', () => {
  itIfRoot('a responder answering PAM\'s password prompt logs in (no key, no password given)', async () => {
    const seen: string[] = [];
    const s = await connect(base({
      tryKeyboard: (_name, _instruction, prompts) => {
        seen.push(...prompts.map((p) => p.text));
        return prompts.map(() => f.password!);
      },
    }));
    await closing(s, async () => {
      expect(seen.join(' ')).toMatch(/password/i);
      expect((await s.exec('whoami')).stdout.toString().trim()).toBe(f.user);
    });
    await expect(connect(base({ tryKeyboard: (_n, _i, prompts) => prompts.map(() => 'wrong') }))).rejects.toBeInstanceOf(AuthError);
  }, 60000);
});

describe('connect({ algorithms })', () => {
  it('the negotiated methods are the ones asked for', async () => {
    const cases = [
      { kex: ['ecdh-sha2-nistp384'], hostKey: ['ecdsa-sha2-nistp521'], cipher: ['aes256-ctr'], mac: ['hmac-sha2-512'] },
      { kex: ['diffie-hellman-group14-sha256'], hostKey: ['rsa-sha2-256'], cipher: ['aes128-ctr'], mac: ['hmac-sha2-256-etm@openssh.com'] },
    ];
    for (const algorithms of cases) {
      await closing(await connect(base({ privateKey: f.keys.ed25519.private, algorithms })), async (s) => {
        expect(s.methods(LIBSSH2_METHOD_KEX)).toBe(algorithms.kex[0]);
        expect(s.methods(LIBSSH2_METHOD_HOSTKEY)).toBe(algorithms.hostKey[0]);
        expect(s.methods(LIBSSH2_METHOD_CRYPT_CS)).toBe(algorithms.cipher[0]);
        expect(s.methods(LIBSSH2_METHOD_CRYPT_SC)).toBe(algorithms.cipher[0]);
        expect(s.methods(LIBSSH2_METHOD_MAC_CS)).toBe(algorithms.mac[0]);
        expect(s.methods(LIBSSH2_METHOD_MAC_SC)).toBe(algorithms.mac[0]);
        expect((await s.exec('echo ok')).stdout.toString()).toBe('ok\n');
      });
    }
  }, 60000);
});

describeIfRoot('partial success: AuthenticationMethods publickey,password', () => {
  let p: SshdFixture;
  let pkh: string;
  beforeAll(async () => {
    p = await startSshd({ extraConfig: ['AuthenticationMethods publickey,password'] });
    pkh = path.join(dir, 'known_hosts_partial');
    fs.writeFileSync(pkh, hostLine(p, 'ed25519') + '\n');
  }, 120000);
  afterAll(async () => {
    if (p) await stopSshd(p);
  });
  const opts = (extra: Partial<ConnectOptions>): ConnectOptions => ({
    host: '127.0.0.1', port: p.port, username: p.user, knownHosts: pkh, readyTimeout: 30000, ...extra,
  });

  it('key and password: connected', async () => {
    await closing(await connect(opts({ privateKey: p.keys.ed25519.private, password: p.password! })), async (s) => {
      expect(s.userauthAuthenticated()).toBe(true);
      expect((await s.exec('whoami')).stdout.toString().trim()).toBe(p.user);
    });
  }, 30000);

  it('the key alone: a clear AuthenticationFailedError naming the missing method', async () => {
    const err = await connect(opts({ privateKey: p.keys.ed25519.private })).catch((e) => e);
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toMatch(/partial success/);
    expect(err.message).toMatch(/publickey accepted/);
    expect(err.message).toMatch(/requires one of: password/);
  }, 30000);

  it('the password alone, or a wrong password after the key: refused', async () => {
    await expect(connect(opts({ password: p.password! }))).rejects.toBeInstanceOf(AuthError);
    const err = await connect(opts({ privateKey: p.keys.ed25519.private, password: 'wrong' })).catch((e) => e);
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toMatch(/partial success/);
  }, 60000);
});
