/**
 * The ported libssh2 examples (examples/*.ts), each run as a child process against the fixture
 * sshd with arguments that make it do real work; the test checks what it printed or changed
 * (files compared by sha256, forwarded bytes, listings, exit codes). Plus the
 * nonblocking-server example in-process: concurrent requests, and the event loop keeps running.
 */
import { spawn, spawnSync, type ChildProcess, type ChildProcessWithoutNullStreams } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { fixture } from './fixtures';
import { runProgram, type RunResult } from './fixtures/run';
import { start } from '../examples/nonblocking-server';

const f = fixture();
const REPO = path.resolve(__dirname, '..');
const REGISTER = path.join(REPO, 'scripts', 'register-ts.js');
const EXAMPLE_TIMEOUT_MS = 60_000;
jest.setTimeout(120_000);

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-examples-'));
  fs.chmodSync(dir, 0o777); // the login user (libssh2test as root) writes here
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface ExampleOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  onSpawn?: (child: ChildProcessWithoutNullStreams) => void;
}

/** Runs examples/<name>.ts with the fixture's port and key in the environment. */
function example(name: string, args: string[], opts: ExampleOptions = {}): Promise<RunResult> {
  return runProgram(process.execPath, ['-r', REGISTER, path.join(REPO, 'examples', `${name}.ts`), ...args], {
    env: {
      ...process.env,
      SSH_PORT: String(f.port),
      SSH_KEY: f.keys.ed25519.private,
      SSH_KEY_PUB: f.keys.ed25519.public,
      SSH_AUTH_SOCK: '',
      ...opts.env,
    },
    input: opts.input,
    cwd: dir,
    timeoutMs: EXAMPLE_TIMEOUT_MS,
    onSpawn: opts.onSpawn,
  });
}

/** The usual first three arguments: host, user, and an empty password (the key is used). */
const login = (): string[] => [f.host, f.user, ''];

const sha256 = (data: Buffer): string => crypto.createHash('sha256').update(data).digest('hex');

/** A local file of random bytes, readable by the login user. */
function randomFile(name: string, size: number): { file: string; data: Buffer } {
  const file = path.join(dir, name);
  const data = crypto.randomBytes(size);
  fs.writeFileSync(file, data, { mode: 0o644 });
  return { file, data };
}

/** Expects a clean run: exit 0 (the output is shown when it is not). */
function expectOk(r: RunResult): void {
  expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
}

/** Resolves with the match once the child's stderr matches `re` (bounded). */
function stderrMatch(child: ChildProcess, re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} in stderr: ${text}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = re.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('close', () => reject(new Error(`exited before ${re}: ${text}`)));
  });
}

/** A TCP echo server on loopback. */
async function echoServer(): Promise<net.Server> {
  const server = net.createServer((c) => c.pipe(c));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

/** Connects to `port`, sends `data`, resolves with what came back once as long; then ends. */
function roundTrip(port: number, data: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let n = 0;
    const timer = setTimeout(() => { c.destroy(); reject(new Error(`round trip: ${n} of ${data.length} bytes`)); }, timeoutMs);
    c.on('error', reject);
    c.on('connect', () => c.write(data));
    c.on('data', (d: Buffer) => {
      got.push(d);
      n += d.length;
      if (n >= data.length) {
        clearTimeout(timer);
        c.end();
        resolve(Buffer.concat(got));
      }
    });
  });
}

describe('exec family', () => {
  it('ssh2_exec: output, exit status, known-hosts dump (non-blocking)', async () => {
    const r = await example('ssh2_exec', [...login(), 'echo hello-exec; echo ignored >&2; exit 3']);
    expectOk(r);
    expect(r.stderr).toContain('We read:\nhello-exec\n');
    expect(r.stderr).toContain('EXIT: 3 bytecount: 11');
    expect(r.stderr).toMatch(/Host check: \d+, key: /);
    expect(fs.existsSync(path.join(dir, 'dumpfile'))).toBe(true);
  });

  it('ssh2: public key chosen by -k, stdout, the command\'s exit code', async () => {
    const r = await example('ssh2', [...login(), '-k', 'echo hello-ssh2; exit 5']);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe('hello-ssh2\n');
    expect(r.stderr).toContain('Authentication by public key succeeded.');
  });

  it('ssh2_echo: 1.5 MB through cat, as much back as written (non-blocking)', async () => {
    const r = await example('ssh2_echo', login());
    expectOk(r);
    expect(r.stderr).toMatch(/rereads: \d+ rewrites: \d+ totwritten 1500000/);
    expect(r.stderr).toContain('read 32000 bytes');
    expect(r.stderr).toContain('sent eof');
    expect(r.stderr).not.toContain('FAIL');
  });

  it('subsystem_netconf: the server\'s <hello>, then the reply to our message', async () => {
    const reply = '<rpc-reply message-id="1"><ok/></rpc-reply>';
    // The fixture's stub echoes what it gets: the "rpc" sent is the reply we expect back.
    const r = await example('subsystem_netconf', login(), { env: { NETCONF_RPC: `${reply}\n]]>]]>\n` } });
    expectOk(r);
    const hello = f.netconfHello.slice(0, f.netconfHello.indexOf(']]>]]>'));
    expect(r.stderr).toContain(`Reading NETCONF server <hello>\nGot ${hello.length} bytes:\n----------------------\n${hello}`);
    expect(r.stderr).toContain(reply);
  });

  it('a failure exits non-zero with a message (unknown key)', async () => {
    const r = await example('ssh2_exec', [...login(), 'true'], { env: { SSH_KEY: path.join(dir, 'missing-key'), SSH_KEY_PUB: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Error: /);
  });
});

describe('SCP', () => {
  it('scp: the download on stdout is the file', async () => {
    const { file, data } = randomFile('scp-src.bin', 300_001);
    const r = await example('scp', [...login(), file]);
    expectOk(r);
    expect(sha256(r.stdoutBuffer)).toBe(sha256(data));
  });

  it('scp_nonblock: the same, non-blocking', async () => {
    const { file, data } = randomFile('scp-nb-src.bin', 2_000_003);
    const r = await example('scp_nonblock', [...login(), file]);
    expectOk(r);
    expect(sha256(r.stdoutBuffer)).toBe(sha256(data));
    expect(r.stderr).toMatch(/Got 2000003 bytes spin: \d+/);
  });

  it.each(['scp_write', 'scp_write_nonblock'])('%s: the uploaded file is the source', async (name) => {
    const { file, data } = randomFile(`${name}-src.bin`, 1_500_007);
    const dest = path.join(dir, `${name}-dest.bin`);
    const r = await example(name, [...login(), file, dest]);
    expectOk(r);
    expect(sha256(fs.readFileSync(dest))).toBe(sha256(data));
    expect(r.stderr).toContain('Waiting for channel to close');
  });
});

describe('SFTP', () => {
  it.each(['sftp', 'sftp_nonblock'])('%s: the download on stdout is the file', async (name) => {
    const { file, data } = randomFile(`${name}-src.bin`, 1_000_003);
    const r = await example(name, [...login(), file]);
    expectOk(r);
    expect(sha256(r.stdoutBuffer)).toBe(sha256(data));
  });

  it.each(['sftp_write', 'sftp_write_nonblock', 'sftp_write_sliding'])('%s: the uploaded file is the source', async (name) => {
    const { file, data } = randomFile(`${name}-src.bin`, 2_500_009); // more than sliding's 1 MB buffer
    const dest = path.join(dir, `${name}-dest.bin`);
    const r = await example(name, [...login(), file, dest]);
    expectOk(r);
    expect(sha256(fs.readFileSync(dest))).toBe(sha256(data));
  });

  it('sftp_append: the local file is appended to the remote one', async () => {
    const remote = path.join(dir, 'append-target.bin');
    const head = crypto.randomBytes(100_000);
    fs.writeFileSync(remote, head, { mode: 0o666 });
    fs.chmodSync(remote, 0o666);
    const { file, data } = randomFile('append-src.bin', 250_001);
    const r = await example('sftp_append', [...login(), file, remote]);
    expectOk(r);
    expect(r.stderr).toContain('Did a seek to position 100000');
    expect(sha256(fs.readFileSync(remote))).toBe(sha256(Buffer.concat([head, data])));
  });

  it('sftp_RW_nonblock: download to local storage, upload to a second path (SSH_HOST, no host argument)', async () => {
    const { file, data } = randomFile('rw-src.bin', 200_003);
    const dest = path.join(dir, 'rw-dest.bin');
    const storage = path.join(dir, 'rw-storage.bin');
    const r = await example('sftp_RW_nonblock', [f.user, '', file, dest, storage], { env: { SSH_HOST: f.host } });
    expectOk(r);
    expect(r.stderr).toContain('SFTP upload done.');
    expect(sha256(fs.readFileSync(storage))).toBe(sha256(data));
    expect(sha256(fs.readFileSync(dest))).toBe(sha256(data));
  });

  it('sftp_mkdir: creates the directory; a second run fails with a non-zero exit', async () => {
    const target = path.join(dir, 'made-by-sftp_mkdir');
    const r = await example('sftp_mkdir', [...login(), target]);
    expectOk(r);
    expect(fs.statSync(target).isDirectory()).toBe(true);
    const again = await example('sftp_mkdir', [...login(), target]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/sftp\.mkdir failed: Sftp\w+Error/);
  });

  it('sftp_mkdir_nonblock: creates the directory', async () => {
    const target = path.join(dir, 'made-by-sftp_mkdir_nonblock');
    const r = await example('sftp_mkdir_nonblock', [...login(), target]);
    expectOk(r);
    expect(fs.statSync(target).isDirectory()).toBe(true);
  });

  describe('listings', () => {
    let listed: string;
    beforeAll(() => {
      listed = path.join(dir, 'listed');
      fs.mkdirSync(listed);
      fs.writeFileSync(path.join(listed, 'a.txt'), 'hello');
      fs.writeFileSync(path.join(listed, 'b.bin'), Buffer.alloc(1234));
      fs.mkdirSync(path.join(listed, 'sub'));
    });

    it('sftpdir: long entries of every file', async () => {
      const r = await example('sftpdir', [...login(), listed]);
      expectOk(r);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(5); // . .. a.txt b.bin sub
      expect(lines.find((l) => / a\.txt$/.test(l))).toMatch(/^-rw-r--r-- .* 5 .* a\.txt$/);
      expect(lines.find((l) => / b\.bin$/.test(l))).toMatch(/ 1234 .* b\.bin$/);
      expect(lines.find((l) => / sub$/.test(l))).toMatch(/^d/);
    });

    it('sftpdir_nonblock: name, ids and size of every file', async () => {
      const r = await example('sftpdir_nonblock', [...login(), listed]);
      expectOk(r);
      const names = r.stdout.trim().split('\n').map((l) => l.split(' ').pop()).sort();
      expect(names).toEqual(['.', '..', 'a.txt', 'b.bin', 'sub']);
      expect(r.stdout).toMatch(/^--fix----- +\d+ +\d+ +5 a\.txt$/m);
      expect(r.stdout).toMatch(/^--fix----- +\d+ +\d+ +1234 b\.bin$/m);
    });
  });
});

describe('forwarding', () => {
  it('direct_tcpip: a local connection reaches an echo server through the SSH server', async () => {
    const echo = await echoServer();
    const echoPort = (echo.address() as net.AddressInfo).port;
    const data = crypto.randomBytes(200_000);
    let back: Promise<Buffer> | undefined;
    try {
      const r = await example('direct_tcpip', [...login(), '127.0.0.1', '0', '127.0.0.1', String(echoPort)], {
        onSpawn: (child) => {
          back = stderrMatch(child, /Waiting for TCP connection on 127\.0\.0\.1:(\d+)/).then((m) => roundTrip(Number(m[1]), data));
        },
      });
      expectOk(r);
      expect(sha256(await back!)).toBe(sha256(data));
      expect(r.stderr).toMatch(/The client at 127\.0\.0\.1:\d+ disconnected\./);
    } finally {
      echo.close();
    }
  });

  it('tcpip-forward: a connection to the server\'s port reaches a local echo server', async () => {
    const echo = await echoServer();
    const echoPort = (echo.address() as net.AddressInfo).port;
    const data = crypto.randomBytes(200_000);
    let back: Promise<Buffer> | undefined;
    try {
      const r = await example('tcpip-forward', [...login(), '127.0.0.1', '0', '127.0.0.1', String(echoPort)], {
        onSpawn: (child) => {
          back = stderrMatch(child, /Server is listening on 127\.0\.0\.1:(\d+)/).then((m) => roundTrip(Number(m[1]), data));
        },
      });
      expectOk(r);
      expect(sha256(await back!)).toBe(sha256(data));
      expect(r.stderr).toContain('Accepted remote connection.');
      expect(r.stderr).toMatch(/The remote client at 127\.0\.0\.1:\d+ disconnected\./);
    } finally {
      echo.close();
    }
  });

  it('x11: an X client in the shell reaches the local X server of $DISPLAY, both ways', async () => {
    const xdir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-x11-'));
    let gotX = '';
    const xserver = net.createServer((c) => {
      c.on('data', (d) => {
        gotX += d.toString();
        if (gotX.length >= 4) c.end('pong');
      });
    });
    await new Promise<void>((r) => xserver.listen(path.join(xdir, 'X7'), r));
    try {
      // The fixture sets DISPLAY=localhost:N in the shell; the X client connects to port 6000+N.
      const client = 'bash -c \'d=${DISPLAY#*:}; d=${d%.*}; exec 3<>/dev/tcp/127.0.0.1/$((6000 + d)); ' +
        'printf ping >&3; r=$(head -c 4 <&3); echo "got-$r-back"\'';
      const r = await example('x11', login(), { env: { DISPLAY: ':7', X11_UNIX_DIR: xdir }, input: `${client}\nexit\n` });
      expectOk(r);
      expect(r.stdout).toContain('got-pong-back');
      expect(gotX).toBe('ping');
    } finally {
      xserver.close();
      fs.rmSync(xdir, { recursive: true, force: true });
    }
  });
});

describe('agent', () => {
  let agentDir: string;
  let agent: ChildProcess;
  let sock: string;
  let emptySock: string;
  let emptyAgent: ChildProcess;
  const pubBlob = (): string => fs.readFileSync(f.keys.ed25519.public, 'utf8').split(' ')[1];

  async function startAgent(socket: string): Promise<ChildProcess> {
    const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.existsSync(socket)).toBe(true);
    return child;
  }

  beforeAll(async () => {
    agentDir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-ex-agent-'));
    sock = path.join(agentDir, 'agent.sock');
    emptySock = path.join(agentDir, 'empty.sock');
    agent = await startAgent(sock);
    emptyAgent = await startAgent(emptySock);
    const add = spawnSync('ssh-add', [f.keys.ed25519.private], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: 'utf8', timeout: 20000 });
    expect(add.status).toBe(0);
  });
  afterAll(() => {
    agent.kill();
    emptyAgent.kill();
    fs.rmSync(agentDir, { recursive: true, force: true });
  });

  it('ssh2_agent: authenticates with the agent\'s key and starts a shell', async () => {
    const comment = fs.readFileSync(f.keys.ed25519.public, 'utf8').trim().split(' ')[2];
    const r = await example('ssh2_agent', [f.host, f.user], { env: { SSH_AUTH_SOCK: sock, SSH_KEY: '' } });
    expectOk(r);
    expect(r.stderr).toContain(`Authentication with username ${f.user} and public key ${comment} succeeded.`);
  });

  it('ssh2_agent: an agent without keys cannot authenticate (exit 1)', async () => {
    const r = await example('ssh2_agent', [f.host, f.user], { env: { SSH_AUTH_SOCK: emptySock, SSH_KEY: '' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Could not continue authentication');
  });

  it('ssh2_agent_forwarding: the remote command lists the forwarded agent\'s key (non-blocking)', async () => {
    const r = await example('ssh2_agent_forwarding', [f.host, f.user, 'ssh-add -L'], { env: { SSH_AUTH_SOCK: sock, SSH_KEY: '' } });
    expectOk(r);
    expect(r.stdout).toBe('Agent forwarding request succeeded.\n');
    expect(r.stderr).toContain(`We read:\nssh-ed25519 ${pubBlob()}`);
    expect(r.stderr).toMatch(/EXIT: 0 bytecount: \d+/);
  });
});

describe('nonblocking-server', () => {
  function get(port: number, cmd: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: `/?cmd=${encodeURIComponent(cmd)}`, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.setTimeout(60_000, () => req.destroy(new Error('HTTP request timed out')));
      req.on('error', reject);
    });
  }

  it('20 concurrent requests on 4 sessions: every answer right, the event loop keeps ticking', async () => {
    const srv = await start({ host: f.host, port: f.port, username: f.user, privateKey: f.keys.ed25519.private, sessions: 4 });
    try {
      expect(srv.sessions.every((s) => !s.getBlocking())).toBe(true);
      let ticks = 0;
      let last = Date.now();
      let maxGap = 0;
      const timer = setInterval(() => {
        const now = Date.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
        ticks++;
      }, 10);
      const t0 = Date.now();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        get(srv.port, `sleep 1; echo out-${i}; echo err-${i} >&2; exit ${i % 5}`)));
      const elapsed = Date.now() - t0;
      clearInterval(timer);
      answers.forEach((a, i) => {
        expect(a.status).toBe(200);
        expect(JSON.parse(a.body)).toMatchObject({ stdout: `out-${i}\n`, stderr: `err-${i}\n`, code: i % 5, signal: null });
      });
      // Every session served some (least busy first).
      expect(new Set(answers.map((a) => JSON.parse(a.body).session)).size).toBe(4);
      // Concurrent: 20 one-second commands took far less than 20 s.
      expect(elapsed).toBeLessThan(10_000);
      // Not blocked: the 10 ms timer kept firing (wide margins for a loaded machine).
      expect(maxGap).toBeLessThan(1000);
      expect(ticks).toBeGreaterThan(elapsed / 100);
      // A bad request, and a failing command, are answered too.
      expect((await get(srv.port, '')).status).toBe(400);
      expect(JSON.parse((await get(srv.port, 'exit 7')).body).code).toBe(7);
    } finally {
      await srv.close();
    }
  });
});
