/**
 * Proves the OpenSSH fixture with the OpenSSH client: every user key type logs in, certificates
 * work, unknown keys are refused, the subsystems answer, every host key is served, and (as root)
 * password, keyboard-interactive and hostbased logins work. Also checks startSshd options and
 * that stopped or orphaned servers leave nothing behind.
 */
import { runProgram, type RunOptions, type RunResult } from './fixtures/run';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { asRoot, fixture, itIfRoot, sshArgs, startSshd, stopSshd } from './fixtures';
import type { HostKeyName, SshdFixture, UserKeyName } from './fixtures';

const SSH = '/usr/bin/ssh';
const RUN_TIMEOUT_MS = 20_000;




/** `ssh <args>` with the given remote command. */
function ssh(args: string[], command: string[], opts?: RunOptions): Promise<RunResult> {
  return runProgram(SSH, [...args, ...command], { timeoutMs: RUN_TIMEOUT_MS, ...opts });
}

/** Replaces (or adds) `-o option=value` in ssh arguments, e.g. to turn BatchMode off. */
function withOption(args: string[], option: string, value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-o' && args[i + 1]?.startsWith(`${option}=`)) i++;
    else out.push(args[i]);
  }
  return ['-o', `${option}=${value}`, ...out];
}

/** Removes `-o option=...` from ssh arguments. */
function withoutOption(args: string[], option: string): string[] {
  return withOption(args, option, '').slice(2);
}

/** Writes an SSH_ASKPASS script answering every prompt with `answer`. */
function writeAskpass(dir: string, name: string, answer: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${answer.replace(/'/g, `'"'"'`)}'\n`, { mode: 0o700 });
  return file;
}

/** Environment making ssh take passwords/passphrases from `askpass`, never from a terminal. */
function askpassEnv(askpass: string): NodeJS.ProcessEnv {
  return { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: process.env.DISPLAY ?? ':0' };
}

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return stat !== '' && !/\) [ZX] /.test(stat);
}

/** Polls `predicate` until true or `timeoutMs` passed; returns its last value. */
async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return predicate();
}

/** True when something accepts TCP connections on 127.0.0.1:port (bounded). */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (open: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(open);
    };
    const timer = setTimeout(() => done(false), 3000);
    socket.on('connect', () => done(true));
    socket.on('error', () => done(false));
  });
}

/** Whether this machine lets root make a private mount namespace (for the hostbased client). */
const canUnshareMounts: boolean =
  asRoot && spawnSync('unshare', ['-m', 'true'], { timeout: 10_000, stdio: 'ignore' }).status === 0;

const f: SshdFixture = fixture();
const PLAIN_KEYS: UserKeyName[] = ['rsa', 'rsaPem', 'ecdsa256', 'ecdsa384', 'ecdsa521', 'ed25519'];
const ENCRYPTED_KEYS: UserKeyName[] = ['rsaEncrypted', 'ed25519Encrypted', 'ecdsaPemEncrypted'];
const HOST_KEYS: HostKeyName[] = ['rsa', 'ecdsa256', 'ecdsa384', 'ecdsa521', 'ed25519'];

let scratch = '';
beforeAll(() => {
  // Inside the fixture directory: removed with it even when the run is killed.
  scratch = fs.mkdtempSync(path.join(f.dir, 'test-'));
});
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('fixture description', () => {
  it('is running and complete', () => {
    expect(f.host).toBe('127.0.0.1');
    expect(f.port).toBeGreaterThan(0);
    expect(alive(f.pid)).toBe(true);
    expect(fs.readFileSync(`/proc/${f.pid}/comm`, 'utf8').trim()).toBe('sshd');
    for (const file of [f.configFile, f.logFile, f.authorizedKeysFile, f.caKey.private, f.caKey.public]) {
      expect(fs.existsSync(file)).toBe(true);
    }
    expect(f.sshdVersion).toMatch(/^\d+\.\d+$/);
    expect(f.serverBanner.startsWith(`SSH-2.0-OpenSSH_${f.sshdVersion}`)).toBe(true);
    expect(f.passphrase.length).toBeGreaterThan(0);
    expect(f.netconfSubsystem).toBe('netconf');
  });

  it('reflects the privileges it was started with', () => {
    if (asRoot) {
      expect(f.user).toBe('libssh2test');
      expect(typeof f.password).toBe('string');
      expect(f.usePam).toBe(fs.existsSync('/etc/pam.d/sshd'));
      expect(f.hostbased).not.toBeNull();
    } else {
      expect(f.user).toBe(os.userInfo().username);
      expect(f.password).toBeNull();
      expect(f.kbdInteractive).toBe(false);
      expect(f.hostbased).toBeNull();
    }
  });

  it('has user keys of the promised types and formats', () => {
    const types: Record<UserKeyName, string> = {
      rsa: 'ssh-rsa',
      rsaPem: 'ssh-rsa',
      ecdsa256: 'ecdsa-sha2-nistp256',
      ecdsa384: 'ecdsa-sha2-nistp384',
      ecdsa521: 'ecdsa-sha2-nistp521',
      ed25519: 'ssh-ed25519',
      rsaEncrypted: 'ssh-rsa',
      ed25519Encrypted: 'ssh-ed25519',
      ecdsaPemEncrypted: 'ecdsa-sha2-nistp256',
      certUser: 'ssh-ed25519',
      certRsa: 'ssh-rsa',
      unauthorized: 'ssh-ed25519',
    };
    for (const [name, type] of Object.entries(types) as [UserKeyName, string][]) {
      expect([name, f.keys[name].type]).toEqual([name, type]);
      expect(fs.readFileSync(f.keys[name].public, 'utf8').startsWith(`${type} `)).toBe(true);
    }
    const head = (name: UserKeyName): string => fs.readFileSync(f.keys[name].private, 'utf8');
    expect(head('rsaPem')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n(?!Proc-Type)/);
    expect(head('ecdsaPemEncrypted')).toMatch(/^-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED/);
    expect(head('rsa')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(f.keys.certUser.certType).toBe('ssh-ed25519-cert-v01@openssh.com');
    expect(f.keys.certRsa.certType).toBe('ssh-rsa-cert-v01@openssh.com');
  });

  it('authorizes exactly the keys marked authorized', () => {
    const authorized = fs.readFileSync(f.authorizedKeysFile, 'utf8');
    for (const key of Object.values(f.keys)) {
      const blob = fs.readFileSync(key.public, 'utf8').split(/\s+/)[1];
      expect([key.public, authorized.includes(blob)]).toEqual([key.public, key.authorized]);
    }
  });

  it('configures the server as specified', () => {
    const config = fs.readFileSync(f.configFile, 'utf8');
    for (const line of [
      'MaxSessions 1000',
      'MaxStartups 1000:30:1000',
      'MaxAuthTries 50',
      'Subsystem sftp internal-sftp',
      'AllowTcpForwarding yes',
      'AllowStreamLocalForwarding yes',
      'AllowAgentForwarding yes',
      `UsePAM ${f.usePam ? 'yes' : 'no'}`,
    ]) {
      expect(config).toContain(`\n${line}\n`);
    }
    const [major, minor] = f.sshdVersion.split('.').map(Number) as [number, number];
    expect(config.includes('PerSourcePenalties no')).toBe(major > 9 || (major === 9 && minor >= 8));
    expect(f.algorithms.ciphers).toContain('aes128-ctr');
  });
});

describe('public key logins with the OpenSSH client', () => {
  it.each(PLAIN_KEYS)('logs in with the %s key', async (name) => {
    const result = await ssh(sshArgs(f, name), ['echo', 'ok']);
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it.each(ENCRYPTED_KEYS)('logs in with the encrypted %s key and the passphrase', async (name) => {
    const askpass = writeAskpass(scratch, `passphrase-${name}`, f.passphrase);
    const args = withOption(sshArgs(f, name), 'BatchMode', 'no');
    const result = await ssh(['-o', 'PreferredAuthentications=publickey', ...args], ['echo', 'ok'], { env: askpassEnv(askpass) });
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it.each(['certUser', 'certRsa'] as UserKeyName[])('logs in with the %s certificate', async (name) => {
    expect(f.keys[name].cert).toBeDefined();
    const result = await ssh(sshArgs(f, name), ['echo', 'ok']);
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('refuses the certificate key without its certificate', async () => {
    // ssh loads `<identity>-cert.pub` by itself: offer a copy of the key that has no certificate.
    const bare = path.join(scratch, 'certUser-without-cert');
    fs.copyFileSync(f.keys.certUser.private, bare);
    fs.chmodSync(bare, 0o600);
    const args = withoutOption(sshArgs(f, 'certUser'), 'CertificateFile').map((a) => (a === f.keys.certUser.private ? bare : a));
    expect(args.join(' ')).not.toContain('CertificateFile');
    const result = await ssh(['-o', 'PreferredAuthentications=publickey', ...args], ['echo', 'ok']);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain('Permission denied');
  });

  it('refuses a key that is not in authorized_keys', async () => {
    const result = await ssh(['-o', 'PreferredAuthentications=publickey', ...sshArgs(f, 'unauthorized')], ['echo', 'ok']);
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Permission denied');
  });

  (f.host6 ? it : it.skip)('accepts logins on ::1', async () => {
    const result = await ssh(sshArgs(f, 'ed25519', f.host6 ?? '::1'), ['echo', 'ok']);
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('passes LIBSSH2_TEST_* environment variables (AcceptEnv)', async () => {
    const result = await ssh(['-o', 'SetEnv=LIBSSH2_TEST_VALUE=fixture42', ...sshArgs(f, 'ed25519')], ['echo "$LIBSSH2_TEST_VALUE"']);
    expect(result).toMatchObject({ code: 0, stdout: 'fixture42\n' });
  });
});

describe('subsystems', () => {
  it('answers the netconf subsystem with a hello, then echoes', async () => {
    const result = await runProgram(SSH, ['-s', ...sshArgs(f, 'ed25519'), f.netconfSubsystem], { input: 'ping\n' });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(f.netconfHello + 'ping\n');
    expect(result.stdout).toContain('<hello');
    expect(result.stdout).toContain(']]>]]>');
  });

  it('serves sftp (internal-sftp)', async () => {
    const args = sshArgs(f, 'ed25519').map((a) => (a === '-p' ? '-P' : a));
    const result = await runProgram('/usr/bin/sftp', ['-b', '-', ...args], { input: 'pwd\n' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Remote working directory: \//);
  });
});

describe('host keys', () => {
  it('ssh-keyscan returns the fixture host keys', async () => {
    const result = await runProgram('/usr/bin/ssh-keyscan', ['-T', '10', '-p', String(f.port), '-t', 'rsa,ecdsa,ed25519', '127.0.0.1']);
    expect(result.code).toBe(0);
    const scanned = result.stdout.split('\n').filter((l) => l.startsWith(`[127.0.0.1]:${f.port} `));
    const expected = new Set(Object.values(f.hostKeys).map((k) => fs.readFileSync(k.public, 'utf8').split(/\s+/).slice(0, 2).join(' ')));
    expect(scanned.length).toBe(3);
    for (const line of scanned) expect(expected.has(line.split(' ').slice(1, 3).join(' '))).toBe(true);
  });

  it.each(HOST_KEYS)('serves the %s host key', async (name) => {
    const key = f.hostKeys[name];
    const knownHosts = path.join(scratch, `known_hosts_${name}`);
    const publicKey = fs.readFileSync(key.public, 'utf8').split(/\s+/).slice(0, 2).join(' ');
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${f.port} ${publicKey}\n`);
    const algorithm = key.type === 'ssh-rsa' ? 'rsa-sha2-512' : key.type;
    let args = withOption(sshArgs(f, 'ed25519'), 'StrictHostKeyChecking', 'yes');
    args = withOption(args, 'UserKnownHostsFile', knownHosts);
    const result = await ssh(['-o', `HostKeyAlgorithms=${algorithm}`, ...args], ['echo', 'ok']);
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
  });
});

describe('password, keyboard-interactive and hostbased (root only)', () => {
  itIfRoot('advertises password, keyboard-interactive and hostbased', async () => {
    const args = withOption(sshArgs(f, 'unauthorized'), 'LogLevel', 'DEBUG1');
    const result = await ssh(['-o', 'PubkeyAuthentication=no', ...args], ['true']);
    expect(result.code).toBe(255);
    expect(result.stderr).toContain('Authentications that can continue: publickey,password,keyboard-interactive,hostbased');
  });

  itIfRoot('logs in with the password', async () => {
    const askpass = writeAskpass(scratch, 'password', f.password ?? '');
    let args = withOption(sshArgs(f, 'unauthorized'), 'BatchMode', 'no');
    args = ['-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no', ...args];
    const result = await ssh(args, ['echo', 'ok'], { env: askpassEnv(askpass) });
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  itIfRoot('refuses a wrong password', async () => {
    const askpass = writeAskpass(scratch, 'wrong-password', 'not-the-password');
    let args = withOption(sshArgs(f, 'unauthorized'), 'BatchMode', 'no');
    args = ['-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1', ...args];
    const result = await ssh(args, ['echo', 'ok'], { env: askpassEnv(askpass) });
    expect(result.code).toBe(255);
    expect(result.stdout).toBe('');
  });

  (asRoot && f.kbdInteractive ? it : it.skip)('logs in with keyboard-interactive (PAM)', async () => {
    const askpass = writeAskpass(scratch, 'kbdint', f.password ?? '');
    let args = withOption(sshArgs(f, 'unauthorized'), 'BatchMode', 'no');
    args = ['-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'PubkeyAuthentication=no', ...args];
    const result = await ssh(args, ['echo', 'ok'], { env: askpassEnv(askpass) });
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
    expect(fs.readFileSync(f.logFile, 'utf8')).toContain(`Accepted keyboard-interactive/pam for ${f.user}`);
  });

  // The OpenSSH client signs hostbased requests with ssh-keysign, which only reads /etc/ssh:
  // a private mount namespace shows it the fixture's hostbased key there, leaving /etc alone.
  (canUnshareMounts && f.hostbased ? it : it.skip)('logs in hostbased with the hostbased key', async () => {
    const hb = f.hostbased;
    if (!hb) throw new Error('no hostbased fixture');
    const etc = fs.mkdtempSync(path.join(scratch, 'etc-ssh-'));
    fs.copyFileSync(hb.private, path.join(etc, 'ssh_host_ed25519_key'));
    fs.copyFileSync(hb.public, path.join(etc, 'ssh_host_ed25519_key.pub'));
    fs.writeFileSync(path.join(etc, 'ssh_config'), 'Host *\n  EnableSSHKeysign yes\n');
    const args = ['-o', 'HostbasedAuthentication=yes', '-o', 'PreferredAuthentications=hostbased', '-o', 'EnableSSHKeysign=yes', ...sshArgs(f, 'unauthorized')];
    const quoted = args.map((a) => `'${a.replace(/'/g, `'"'"'`)}'`).join(' ');
    const script = `mount --bind '${etc}' /etc/ssh && exec ${SSH} ${quoted} echo ok`;
    const result = await runProgram('unshare', ['-m', 'sh', '-c', script]);
    expect(result).toMatchObject({ code: 0, stdout: 'ok\n' });
    expect(fs.readFileSync(f.logFile, 'utf8')).toContain(`Accepted hostbased for ${f.user}`);
  });
});

describe('startSshd options and cleanup', () => {
  it('applies rekeyLimit and extraConfig, rekeys during a transfer, and stops cleanly', async () => {
    const extra = await startSshd({ rekeyLimit: '64K', extraConfig: ['LogLevel DEBUG1', 'Match User nobody', '  PermitTTY no'] });
    try {
      expect(extra.port).not.toBe(f.port);
      expect(extra.rekeyLimit).toBe('64K');
      const config = fs.readFileSync(extra.configFile, 'utf8');
      expect(config).toContain('\nRekeyLimit 64K\n');
      expect(config.indexOf('LogLevel DEBUG1')).toBeLessThan(config.indexOf('LogLevel VERBOSE'));
      expect(config.trimEnd().endsWith('Match User nobody\n  PermitTTY no')).toBe(true);
      const result = await ssh(sshArgs(extra, 'ed25519'), ['head -c 1000000 /dev/zero | wc -c']);
      expect(result).toMatchObject({ code: 0, stdout: '1000000\n' });
      const big = await runProgram(SSH, [...sshArgs(extra, 'ed25519'), 'cat > /dev/null && echo done'], { input: Buffer.alloc(1_000_000) });
      expect(big).toMatchObject({ code: 0, stdout: 'done\n' });
      expect(fs.readFileSync(extra.logFile, 'utf8')).toMatch(/ssh_set_newkeys: rekeying/);
    } finally {
      await stopSshd(extra);
    }
    expect(alive(extra.pid)).toBe(false);
    expect(alive(extra.watchdogPid)).toBe(false);
    expect(fs.existsSync(extra.dir)).toBe(false);
    expect(await portOpen(extra.port)).toBe(false);
  });

  it('stops the server and its sessions even with a session open', async () => {
    const extra = await startSshd();
    // Read the client's output as it comes: the session is surely open once "started" arrived.
    const client = spawn(SSH, [...sshArgs(extra, 'ed25519'), 'echo started; sleep 30'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    client.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((r) => client.on('close', (code) => r(code)));
    try {
      expect(await waitFor(() => stdout.includes('started'), 15_000)).toBe(true);
    } finally {
      await stopSshd(extra);
    }
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
    if (code === 'timeout') client.kill('SIGKILL');
    expect(stdout).toBe('started\n');
    expect(code).not.toBe(0); // the connection was cut, long before the 30 s sleep ended
    expect(code).not.toBe('timeout');
    expect(alive(extra.pid)).toBe(false);
    expect(fs.existsSync(extra.dir)).toBe(false);
  });

  it('dies with its owner process (the watchdog)', async () => {
    const owner = spawn('sleep', ['60'], { stdio: 'ignore' });
    const ownerExit = new Promise((resolve) => owner.on('exit', resolve));
    const extra = await startSshd({ ownerPid: owner.pid });
    try {
      expect(alive(extra.pid)).toBe(true);
      owner.kill('SIGKILL');
      await ownerExit;
      expect(await waitFor(() => !alive(extra.pid), 10_000)).toBe(true);
      expect(await waitFor(() => !fs.existsSync(extra.dir), 10_000)).toBe(true);
      expect(await portOpen(extra.port)).toBe(false);
    } finally {
      owner.kill('SIGKILL');
      await stopSshd(extra);
    }
  });
});
