/**
 * The OpenSSH client as a peer: `ssh` through a ControlMaster for W2 and W3 (one connection per
 * batch, as the other peers; every exec a new `ssh -S socket` client process, as a shell script
 * would run it), driven and timed by bench/c/ossh.c. The common options and the parsing of the
 * negotiated methods serve `sftp -b` (bench/sftp.ts) and `ssh -W` (bench/w7.ts) too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runProgram } from '../test/fixtures/run';
import { runChild, settings, withTimeout, type Batch, type Methods, type Peer, type Target } from './harness';

const MASTER_TIMEOUT_MS = 10_000;

/**
 * Options of every OpenSSH client of the benchmark: no config file, no known_hosts, the
 * fixture's key only, no agent, and the same algorithms as the other peers (none with
 * `--defaults`). LogLevel=DEBUG1 where the negotiated methods are wanted (they are read from it).
 */
export function opensshOptions(t: Target, debug: boolean): string[] {
  return [
    '-F', '/dev/null', '-i', t.privkey,
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'ConnectTimeout=10',
    '-o', `LogLevel=${debug ? 'DEBUG1' : 'ERROR'}`,
    ...(settings.defaults ? [] : ['-c', 'aes128-gcm@openssh.com', '-o', 'KexAlgorithms=curve25519-sha256',
      '-o', 'HostKeyAlgorithms=ssh-ed25519']),
  ];
}

/** The negotiated methods from the -v (DEBUG1) output of ssh or sftp. */
export function opensshMethods(stderr: string): Methods | null {
  const m = (re: RegExp) => re.exec(stderr)?.[1] ?? '';
  const r = {
    kex: m(/kex: algorithm: (\S+)/),
    hostkey: m(/kex: host key algorithm: (\S+)/),
    crypt_cs: m(/kex: client->server cipher: (\S+)/),
    crypt_sc: m(/kex: server->client cipher: (\S+)/),
  };
  return r.kex ? r : null;
}

/** A running ControlMaster (`ssh -M -N -S socket`). */
export interface Master {
  socket: string;
  pid: number;
  /** The options a client needs to run through it (before `dest`). */
  clientArgs: string[];
  /** `user@host`. */
  dest: string;
  methods: Methods | null;
  stop(): Promise<void>;
}

/**
 * Starts `ssh -M -N -S <socket in a new temp dir>` and waits until `ssh -O check` answers.
 * Clients get `-S socket -o ControlMaster=no` plus options that make a direct connection fail
 * (password authentication only, in batch mode): a client that did not reach the master
 * exits 255 instead of quietly opening its own connection.
 */
export async function startMaster(t: Target): Promise<Master> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-bench-ssh-'));
  const socket = path.join(dir, 'mux');
  const dest = `${t.user}@${t.host}`;
  const child: ChildProcess = spawn('ssh', ['-M', '-N', '-S', socket, '-o', 'ControlPersist=no', '-p', String(t.port),
    ...opensshOptions(t, true), dest], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      await runProgram('ssh', ['-S', socket, '-O', 'exit', dest], { timeoutMs: MASTER_TIMEOUT_MS });
      await withTimeout(exited, MASTER_TIMEOUT_MS, 'ssh master exit', () => child.kill('SIGKILL')).catch(() => undefined);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + MASTER_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ssh master exited: ${stderr.trim().slice(-500)}`);
      if (fs.existsSync(socket)) {
        const r = await runProgram('ssh', ['-S', socket, '-O', 'check', dest], { timeoutMs: MASTER_TIMEOUT_MS });
        if (r.code === 0) break;
      }
      if (Date.now() > deadline) throw new Error('ssh master: no control socket after 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (e) {
    child.kill('SIGKILL');
    await stop();
    throw e;
  }
  return {
    socket,
    pid: child.pid as number,
    clientArgs: ['-S', socket, '-o', 'ControlMaster=no', '-F', '/dev/null', '-o', 'BatchMode=yes',
      '-o', 'PreferredAuthentications=password', '-o', 'LogLevel=ERROR', '-p', String(t.port)],
    dest,
    get methods() {
      return opensshMethods(stderr);
    },
    stop,
  };
}

/**
 * OpenSSH through a ControlMaster started per batch (connection and auth untimed); bench/c/ossh.c
 * runs, times and checks the clients; CPU = the clients + the master. `w2`: one
 * `ssh -S socket ... true` after another; `w3`: `channels` clients `ssh -S socket ... echo i` at
 * once; `w7`: `ssh -S socket -W host:port` with stdin from a file (`w7()` gives the file and
 * the -W argument once the workload is set up; the master reads the file itself: the client
 * hands its stdin and stdout over the control socket).
 */
export function opensshMuxPeer(mode: 'w2' | 'w3' | 'w7', label: string, channels = 1,
  w7?: () => { file: string; forward: string }): Peer {
  return {
    name: 'openssh',
    label,
    async run(t, iterations, warmup): Promise<Batch> {
      const master = await startMaster(t);
      try {
        const exe = path.join(__dirname, 'c', 'build', 'ossh');
        const fwd = w7?.();
        const arg = mode === 'w7' ? (fwd?.file ?? '') : String(channels);
        const extra = fwd ? ['-W', fwd.forward] : [];
        const out = await runChild(exe, [mode, String(iterations), String(warmup), arg, String(master.pid),
          'ssh', ...master.clientArgs, ...extra, master.dest], 30_000 + (iterations + warmup) * (mode === 'w7' ? 180_000 : 30_000));
        const r = JSON.parse(out) as { ms: number[]; wall_ms: number; cpu_user_ms: number; cpu_sys_ms: number };
        return { ms: r.ms, wallMs: r.wall_ms, cpuUserMs: r.cpu_user_ms, cpuSysMs: r.cpu_sys_ms, methods: master.methods };
      } finally {
        await master.stop();
      }
    },
  };
}
