import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Session, Libssh2Error, BadUseError } from '../lib';
import { fixture } from './fixtures';
import { handshaken } from './helpers/connect';

const f = fixture();

/** Reads SSH wire strings. */
function sshStrings(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off + 4 <= buf.length;) {
    const n = buf.readUInt32BE(off);
    out.push(buf.subarray(off + 4, off + 4 + n));
    off += 4 + n;
  }
  return out;
}

describe('agent', () => {
  let dir: string;
  let sock: string;
  let agent: ChildProcess;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-agent-'));
    sock = path.join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    for (const k of ['rsa', 'ecdsa256', 'ed25519'] as const) {
      const r = spawnSync('ssh-add', [f.keys[k].private], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: 'utf8' });
      expect(r.status).toBe(0);
    }
  });
  afterAll(() => {
    agent.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function connected(s: Session) {
    const a = s.agentInit();
    a.setIdentityPath(sock);
    expect(a.getIdentityPath()).toBe(sock);
    await a.connect();
    await a.listIdentities();
    return a;
  }

  it('lists identities with blob, comment and type', async () => {
    const s = await handshaken();
    const a = await connected(s);
    const ids = a.getIdentities();
    expect(ids.map((i) => i.type).sort()).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa']);
    const ed = ids.find((i) => i.type === 'ssh-ed25519')!;
    expect(ed.blob).toEqual(Buffer.from(fs.readFileSync(f.keys.ed25519.public, 'utf8').split(' ')[1], 'base64'));
    await a.disconnect();
    a.free();
    await s.close();
  });

  it.each(['ssh-rsa', 'ecdsa-sha2-nistp256', 'ssh-ed25519'])('userauth with the %s identity', async (type) => {
    const s = await handshaken();
    const a = await connected(s);
    await a.userauth(f.user, a.getIdentities().find((i) => i.type === type)!);
    expect(s.userauthAuthenticated()).toBe(true);
    a.free();
    await s.close();
  });

  it('sign: an ed25519 signature node:crypto verifies', async () => {
    const s = await handshaken();
    const a = await connected(s);
    const id = a.getIdentities().find((i) => i.type === 'ssh-ed25519')!;
    const data = crypto.randomBytes(64);
    const sig = await a.sign(id, data); // the signature itself, without the SSH wrapping
    expect(sig.length).toBe(64);
    const raw = sshStrings(id.blob)[1];
    const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    expect(crypto.verify(null, data, key, sig)).toBe(true);
    a.free();
    await s.close();
  });

  it('userauthAgent tries the identities until one works', async () => {
    const s = await handshaken();
    await s.userauthAgent(f.user, sock);
    expect(s.userauthAuthenticated()).toBe(true);
    await s.close();
  });

  it('no agent at the path: a typed error; after free: BadUseError', async () => {
    const s = new Session();
    const a = s.agentInit();
    a.setIdentityPath(path.join(dir, 'nothing.sock'));
    await expect(a.connect()).rejects.toBeInstanceOf(Libssh2Error);
    a.free();
    a.free();
    await expect(a.connect()).rejects.toBeInstanceOf(BadUseError);
    await s.free();
  });
});
