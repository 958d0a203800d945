import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Session, BadUseError, LIBSSH2_ERROR_EAGAIN } from '../lib';
import { fixture } from './fixtures';
import { authenticated } from './helpers/connect';

const f = fixture();

/** Agent forwarding: the server's auth-agent channels are piped to a local ssh-agent. */
describe('agent forwarding', () => {
  let dir: string;
  let sock: string;
  let agent: ChildProcess;
  let fingerprint: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-fwd-agent-'));
    sock = path.join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const add = spawnSync('ssh-add', [f.keys.ecdsa256.private], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: 'utf8', timeout: 20000 });
    expect(add.status).toBe(0);
    const fp = spawnSync('ssh-keygen', ['-lf', f.keys.ecdsa256.public], { encoding: 'utf8', timeout: 20000 });
    fingerprint = fp.stdout.split(' ')[1]; // "256 SHA256:... comment (ECDSA)"
    expect(fingerprint).toMatch(/^SHA256:/);
  });
  afterAll(() => {
    agent.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ssh-add -l on the server lists the local agent\'s key', async () => {
    const s = await authenticated();
    s.setTimeout(30000);
    s.setAgentForwarding(sock);
    // sshd grants agent forwarding once per connection; one command opens two agent channels.
    const r = await s.exec('ssh-add -l && ssh-add -L', { agentForwarding: true });
    expect(r.stderr.toString()).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.toString().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(fingerprint);
    expect(lines[1]).toContain(fs.readFileSync(f.keys.ecdsa256.public, 'utf8').split(' ')[1]);
    expect(s.closed).toBe(false);
    await s.close();
  });

  it('the remote side signs with the forwarded agent (ssh-keygen -Y sign)', async () => {
    const s = await authenticated();
    s.setTimeout(30000);
    s.setAgentForwarding(sock);
    const pub = fs.readFileSync(f.keys.ecdsa256.public, 'utf8').trim();
    const r = await s.exec(`cd "$(mktemp -d)" && echo '${pub}' > key.pub && echo data > msg && ` +
      'ssh-keygen -q -Y sign -f key.pub -n test msg && head -1 msg.sig', { agentForwarding: true });
    expect(r.stderr.toString()).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString().trim()).toBe('-----BEGIN SSH SIGNATURE-----');
    await s.close();
  });

  it('in non-blocking mode too: the agent channels are served with …Nb() calls', async () => {
    const s = await authenticated();
    s.setTimeout(30000);
    s.setAgentForwarding(sock);
    s.setBlocking(false);
    const nb = async <T>(call: () => T | typeof LIBSSH2_ERROR_EAGAIN): Promise<T> => {
      for (let i = 0; i < 100000; i++) {
        const r = call();
        if (r !== LIBSSH2_ERROR_EAGAIN) return r;
        // Never 10 s of silence here: the agent channel's async free may read this channel's
        // data into libssh2's buffers, and must then wake this waiter (it once did not).
        if (!(await s.waitSocket(10000))) throw new Error('waitSocket timed out: a lost wakeup');
      }
      throw new Error('still EAGAIN');
    };
    const ch = await nb(() => s.openSessionNb());
    await nb(() => ch.requestAuthAgentNb());
    await nb(() => ch.execNb('ssh-add -l'));
    let out = '';
    for (let i = 0; i < 10000; i++) {
      const b = await nb(() => ch.readNb());
      if (b.length === 0) break;
      out += b.toString();
    }
    await nb(() => ch.closeNb());
    expect(out).toContain(fingerprint);
    expect(ch.getExitStatus()).toBe(0);
    await nb(() => ch.freeNb());
    await s.close();
  });

  it('without a handler libssh2 refuses the channel cleanly and the session goes on', async () => {
    // libssh2 answers with OPEN_FAILURE; unpatched, that packet was one byte too long and sshd
    // dropped the whole connection ("Invalid open failure message").
    const s = await authenticated();
    s.setTimeout(30000);
    const r = await s.exec('ssh-add -l', { agentForwarding: true });
    expect(r.code).not.toBe(0); // 1 (the agent connection ended) or 141 (SIGPIPE), as it races
    expect(r.stdout.toString()).not.toContain(fingerprint);
    expect(s.closed).toBe(false);
    const again = await s.exec('echo alive');
    expect(again.stdout.toString()).toBe('alive\n');
    await s.close();
  });

  it('switched on, then off again: refused as well', async () => {
    const s = await authenticated();
    s.setTimeout(30000);
    s.setAgentForwarding(sock);
    s.setAgentForwarding(null);
    const r = await s.exec('ssh-add -l', { agentForwarding: true });
    expect(r.code).not.toBe(0);
    expect(r.stdout.toString()).not.toContain(fingerprint);
    expect((await s.exec('echo alive')).stdout.toString()).toBe('alive\n');
    await s.close();
  });

  it('an unreachable local agent: the remote client sees the connection end', async () => {
    const s = await authenticated();
    s.setTimeout(30000);
    s.setAgentForwarding(path.join(dir, 'nothing.sock'));
    const r = await s.exec('ssh-add -l', { agentForwarding: true });
    expect(r.code).not.toBe(0);
    expect(r.stdout.toString()).not.toContain(fingerprint);
    expect(s.closed).toBe(false);
    expect((await s.exec('echo alive')).stdout.toString()).toBe('alive\n');
    await s.close();
  });

  it('bad input: no socket at all, a non-string path, a freed session', async () => {
    const s = new Session();
    const saved = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    try {
      expect(() => s.setAgentForwarding()).toThrow(BadUseError);
    } finally {
      if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
    }
    expect(() => s.setAgentForwarding(5 as unknown as string)).toThrow(TypeError);
    expect(() => s.setX11Handler(5 as unknown as null)).toThrow(TypeError);
    await s.free();
    expect(() => s.setAgentForwarding(sock)).toThrow(BadUseError);
  });
});
