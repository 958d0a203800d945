/**
 * The clients the workloads drive: this binding, and the `ssh2` npm package (pure JavaScript,
 * its Client API), each asked for the same algorithms as the C clients (bench/c/common.h).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Client, type ClientChannel, type Negotiated } from 'ssh2';
import {
  LIBSSH2_METHOD_CRYPT_CS,
  LIBSSH2_METHOD_CRYPT_SC,
  LIBSSH2_METHOD_HOSTKEY,
  LIBSSH2_METHOD_KEX,
  Session,
  type Channel,
} from '../lib';
import { withTimeout, type Methods, type Target } from './harness';

/** The same algorithms as bench/c/common.h asks of libssh2. */
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
    for (const [type, , prefs] of METHODS) session.methodPref(type, prefs);
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
    algorithms: {
      kex: ['curve25519-sha256'],
      serverHostKey: ['ssh-ed25519'],
      cipher: ['aes128-gcm@openssh.com'],
    },
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
