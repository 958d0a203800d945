/**
 * The clients the workloads drive: this binding, and the `ssh2` npm package (pure JavaScript,
 * its Client API), each asked for the same algorithms as the C clients (bench/c/common.h).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Client, type ClientChannel, type Negotiated } from 'ssh2';
import {
  LIBSSH2_ERROR_EAGAIN,
  LIBSSH2_METHOD_CRYPT_CS,
  LIBSSH2_METHOD_CRYPT_SC,
  LIBSSH2_METHOD_HOSTKEY,
  LIBSSH2_METHOD_KEX,
  Session,
  type Channel,
} from '../lib';
import { settings, withTimeout, type Methods, type Target } from './harness';

/** The same algorithms as bench/c/common.h asks of libssh2 (none with `--defaults`). */
export const METHODS: [number, string, string][] = [
  [LIBSSH2_METHOD_KEX, 'kex', 'curve25519-sha256'],
  [LIBSSH2_METHOD_HOSTKEY, 'hostkey', 'ssh-ed25519'],
  [LIBSSH2_METHOD_CRYPT_CS, 'crypt_cs', 'aes128-gcm@openssh.com'],
  [LIBSSH2_METHOD_CRYPT_SC, 'crypt_sc', 'aes128-gcm@openssh.com'],
];

/** Bounds every call of a client (the C children are bounded by runChild's timeout). */
export const OP_TIMEOUT_MS = 10_000;
/** Bounds the reads of one stream of a command that prints nothing. */
const MAX_READS = 10_000;

// ---- this binding ------------------------------------------------------------------------

/** net.connect + new Session + methodPref + handshake + publickey auth (ed25519 key file). */
export async function bindingConnect(t: Target): Promise<{ session: Session; methods: Methods }> {
  const sock = net.connect({ host: t.host, port: t.port });
  const session = new Session();
  try {
    session.setTimeout(OP_TIMEOUT_MS);
    if (!settings.defaults) for (const [type, , prefs] of METHODS) session.methodPref(type, prefs);
    await session.handshake(sock); // takes the socket's fd over and sets TCP_NODELAY
    const methods = Object.fromEntries(METHODS.map(([type, name]) => [name, session.methods(type) ?? '']));
    await session.userauthPublickeyFromfile(t.user, t.privkey);
    return { session, methods };
  } catch (e) {
    sock.destroy();
    await session.free();
    throw e;
  }
}

/** disconnect + free. */
export async function bindingDisconnect(session: Session): Promise<void> {
  try {
    await session.disconnect();
  } finally {
    await session.free();
  }
}

async function drain(ch: Channel, stream: number): Promise<void> {
  for (let i = 0; i < MAX_READS; i++) {
    if ((await ch.read(65536, stream)).length === 0) return;
  }
  throw new Error(`stream ${stream} did not reach EOF after ${MAX_READS} reads`);
}

/**
 * One exec with the binding: openSession, exec `true`, read stdout and stderr to EOF (both
 * reads pending at once, as lib/channel.ts recommends), close (resolves after the peer's CLOSE),
 * exit status (must be 0), free. Every call is bounded by the session timeout.
 */
export async function bindingExec(session: Session): Promise<void> {
  const ch = await session.openSession();
  try {
    await ch.exec('true');
    await Promise.all([drain(ch, 0), drain(ch, 1)]);
    await ch.close();
    const status = ch.getExitStatus();
    if (status !== 0) throw new Error(`exec true: exit status ${status}`);
  } finally {
    await ch.free();
  }
}

async function collect(ch: Channel, stream: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < MAX_READS; i++) {
    const b = await ch.read(65536, stream);
    if (b.length === 0) return Buffer.concat(parts);
    parts.push(b);
  }
  throw new Error(`stream ${stream} did not reach EOF after ${MAX_READS} reads`);
}

/**
 * `command` as bindingExec runs `true`; resolves to its stdout. Stderr must be empty and the
 * exit status 0.
 */
export async function bindingCommand(session: Session, command: string): Promise<string> {
  const ch = await session.openSession();
  try {
    await ch.exec(command);
    const [out, err] = await Promise.all([collect(ch, 0), collect(ch, 1)]);
    if (err.length > 0) throw new Error(`${command}: stderr ${err.toString().slice(0, 200)}`);
    await ch.close();
    const status = ch.getExitStatus();
    if (status !== 0) throw new Error(`${command}: exit status ${status}`);
    return out.toString();
  } finally {
    await ch.free();
  }
}

// ---- this binding, non-blocking mode ---------------------------------------------------------

const EAGAIN = LIBSSH2_ERROR_EAGAIN;
/** Bounds the attempts of one non-blocking call (each wait is bounded by OP_TIMEOUT_MS). */
const MAX_ATTEMPTS = 100_000;

/**
 * The C idiom of non-blocking libssh2 (lib/nb.ts, test/nb.test.ts): repeat `call` while it
 * returns EAGAIN, waiting for the socket in libssh2's block directions in between.
 */
async function nb<T>(s: Session, what: string, call: () => T | typeof EAGAIN): Promise<T> {
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const r = call();
    if (r !== EAGAIN) return r;
    await s.waitSocket(OP_TIMEOUT_MS);
  }
  throw new Error(`${what}: still EAGAIN after ${MAX_ATTEMPTS} attempts`);
}

/**
 * bindingExec in non-blocking mode (the session must be in it: `setBlocking(false)`):
 * openSessionNb, execNb, readNb and readStderrNb to EOF, closeNb, exit status, freeNb, with
 * `await session.waitSocket()` whenever a call returned EAGAIN. The two reads wait only after
 * two rounds in a row without progress: a readStderrNb that returned EAGAIN may have taken
 * stdout's data off the socket (the wait would then sleep until the next packet).
 */
export async function bindingExecNb(s: Session): Promise<void> {
  const ch = await nb(s, 'openSessionNb', () => s.openSessionNb());
  try {
    await nb(s, 'execNb', () => ch.execNb('true'));
    let eof0 = false;
    let eof1 = false;
    let idle = 0;
    for (let i = 0; !(eof0 && eof1); i++) {
      if (i >= MAX_ATTEMPTS) throw new Error(`readNb: no EOF after ${MAX_ATTEMPTS} attempts`);
      let progress = false;
      if (!eof0) {
        const b = ch.readNb(65536);
        if (b !== EAGAIN) {
          progress = true;
          eof0 = b.length === 0;
        }
      }
      if (!eof1) {
        const b = ch.readStderrNb(65536);
        if (b !== EAGAIN) {
          progress = true;
          eof1 = b.length === 0;
        }
      }
      if (progress) idle = 0;
      else if (++idle >= 2) await s.waitSocket(OP_TIMEOUT_MS);
    }
    await nb(s, 'closeNb', () => ch.closeNb());
    const status = ch.getExitStatus();
    if (status !== 0) throw new Error(`exec true: exit status ${status}`);
  } finally {
    await nb(s, 'freeNb', () => ch.freeNb());
  }
}

// ---- the ssh2 npm package ----------------------------------------------------------------

function ssh2Methods(n: Negotiated): Methods {
  // ssh2 names the GCM ciphers without their @openssh.com suffix.
  const cipher = (c: string) => (c.startsWith('aes') && c.endsWith('-gcm') ? `${c}@openssh.com` : c);
  return { kex: n.kex, hostkey: n.serverHostKey ?? n.srvHostKey ?? '', crypt_cs: cipher(n.cs.cipher), crypt_sc: cipher(n.sc.cipher) };
}

/**
 * Connects and authenticates an ssh2 Client (key read from the file on every call, as the
 * binding's userauthPublickeyFromfile does). `noDelay`: `client.setNoDelay(true)` (documented:
 * it calls setNoDelay() on the underlying socket) right after connect(), before the handshake.
 */
export function ssh2Connect(t: Target, noDelay: boolean): Promise<{ conn: Client; methods: Methods }> {
  const conn = new Client();
  const done = new Promise<{ conn: Client; methods: Methods }>((resolve, reject) => {
    let methods: Methods | null = null;
    conn.once('handshake', (n: Negotiated) => (methods = ssh2Methods(n)));
    conn.once('ready', () => (methods ? resolve({ conn, methods }) : reject(new Error('ssh2: ready without handshake'))));
    conn.once('error', reject);
  });
  conn.connect({
    host: t.host,
    port: t.port,
    username: t.user,
    privateKey: fs.readFileSync(t.privkey),
    readyTimeout: OP_TIMEOUT_MS,
    ...(settings.defaults ? {} : {
      algorithms: {
        kex: ['curve25519-sha256'],
        serverHostKey: ['ssh-ed25519'],
        cipher: ['aes128-gcm@openssh.com'],
      },
    }),
  });
  if (noDelay) conn.setNoDelay(true);
  return withTimeout(done, OP_TIMEOUT_MS, 'ssh2 connect', () => conn.destroy());
}

/** end() and wait for the connection's 'close'. */
export function ssh2Disconnect(conn: Client): Promise<void> {
  const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  conn.end();
  return withTimeout(closed, OP_TIMEOUT_MS, 'ssh2 end', () => conn.destroy());
}

/**
 * `command` with ssh2: conn.exec, collect stdout and stderr (must be empty), the stream's
 * 'close' gives the exit code (must be 0); resolves to stdout.
 */
export function ssh2Command(conn: Client, command: string): Promise<string> {
  const done = new Promise<string>((resolve, reject) => {
    conn.exec(command, (err: Error | undefined, stream: ClientChannel) => {
      if (err) {
        reject(err);
        return;
      }
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      stream.on('data', (b: Buffer) => out.push(b));
      stream.stderr.on('data', (b: Buffer) => errOut.push(b));
      stream.on('close', (code: number | null) => {
        if (code !== 0) reject(new Error(`${command}: exit code ${code}`));
        else if (errOut.length > 0) reject(new Error(`${command}: stderr ${Buffer.concat(errOut).toString().slice(0, 200)}`));
        else resolve(Buffer.concat(out).toString());
      });
      stream.on('error', reject);
    });
  });
  return withTimeout(done, OP_TIMEOUT_MS, `ssh2 exec ${command}`, () => conn.destroy());
}

/** One exec with ssh2: conn.exec('true'), consume stdout and stderr, the stream's 'close' gives the exit code. */
export function ssh2Exec(conn: Client): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    conn.exec('true', (err: Error | undefined, stream: ClientChannel) => {
      if (err) {
        reject(err);
        return;
      }
      stream.on('close', (code: number | null) => (code === 0 ? resolve() : reject(new Error(`exec true: exit code ${code}`))));
      stream.on('error', reject);
      stream.resume();
      stream.stderr.resume();
    });
  });
  return withTimeout(done, OP_TIMEOUT_MS, 'ssh2 exec', () => conn.destroy());
}
