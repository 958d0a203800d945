/**
 * `connect(options)`: an authenticated `Session` with safe defaults — modern algorithms, strict
 * host-key checking against known_hosts, the auth methods the server allows in turn, a ready
 * timeout. TypeScript only, on the one-to-one classes.
 */
import * as dns from 'dns';
import * as os from 'os';
import * as path from 'path';
import type { Duplex } from 'stream';
import { Session, type KbdResponder } from './session';
import { Channel } from './channel';
import { native } from './native';
import {
  HostKeyMismatchError, HostKeyRevokedError, HostKeyUnknownError, AuthError, AuthenticationFailedError, TimeoutError,
  createError, type Libssh2Error,
} from './errors';
import {
  LIBSSH2_METHOD_KEX, LIBSSH2_METHOD_HOSTKEY, LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC, LIBSSH2_METHOD_MAC_CS,
  LIBSSH2_METHOD_MAC_SC, LIBSSH2_ERROR_TIMEOUT, LIBSSH2_HOSTKEY_HASH_SHA256,
} from './constants';
import { appendKnownHost, checkHostKey, linesFor, readKnownHosts } from './knownhosts';
import { setReconnect } from './reconnect';

/** Algorithm lists per method type, most preferred first. */
export interface Algorithms {
  /** `LIBSSH2_METHOD_KEX`. */
  kex?: string[];
  /** `LIBSSH2_METHOD_HOSTKEY` (hosts in known_hosts put their known key types first). */
  hostKey?: string[];
  /** `LIBSSH2_METHOD_CRYPT_CS` and `LIBSSH2_METHOD_CRYPT_SC`. */
  cipher?: string[];
  /** `LIBSSH2_METHOD_MAC_CS` and `LIBSSH2_METHOD_MAC_SC`. */
  mac?: string[];
}

/** What `hostVerifier` is told about an unknown host. */
export interface HostKeyInfo {
  host: string;
  port: number;
  keyType: string;
  key: Buffer;
  /** 'SHA256:...' as OpenSSH prints it. */
  fingerprint: string;
}

/** Options of `connect()`: where, who, how to authenticate, and how to check the host key. */
export interface ConnectOptions {
  /** Host name or address (resolved with `dns.lookup`). */
  host: string;
  /** TCP port (default 22). */
  port?: number;
  /** The user to log in as. */
  username: string;
  /** Tried with `libssh2_userauth_password_ex` when the server offers `password`. */
  password?: string;
  /** A key file path, the key as a Buffer, or key text (a string starting with `-----BEGIN`). */
  privateKey?: string | Buffer;
  /** The passphrase of an encrypted `privateKey`. */
  passphrase?: string;
  /** `true` for `$SSH_AUTH_SOCK`, or the agent socket path. */
  agent?: boolean | string;
  /** Answers keyboard-interactive prompts (tried when the server offers it). */
  tryKeyboard?: KbdResponder;
  /** A connected socket, any Duplex, or a Channel of another session (a jump host). */
  sock?: Duplex | Channel;
  /** Time limit for connect + handshake + auth, ms (default 20000). */
  readyTimeout?: number;
  /** Algorithm preferences (`libssh2_session_method_pref`); default {@link DEFAULT_ALGORITHMS}. */
  algorithms?: Algorithms;
  /** known_hosts files to use instead of ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts. */
  knownHosts?: string | string[];
  /** Unknown hosts are added to the first known_hosts file instead of refused. */
  acceptNew?: boolean;
  /** Decides about an unknown host (never about a mismatch or a revoked key). */
  hostVerifier?: (info: HostKeyInfo) => boolean | Promise<boolean>;
}

/** Modern defaults (libssh2's chacha20-poly1305 lacks an upstream length fix: not offered). */
export const DEFAULT_ALGORITHMS: Required<Algorithms> = {
  kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256', 'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521', 'diffie-hellman-group-exchange-sha256', 'diffie-hellman-group16-sha512',
    'diffie-hellman-group18-sha512', 'diffie-hellman-group14-sha256'],
  hostKey: ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512',
    'rsa-sha2-256'],
  cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr'],
  mac: ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512'],
};

const HOSTKEY_ALGOS_OF_TYPE: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256'],
};

function defaultKnownHosts(): string[] {
  return [path.join(os.homedir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
}

function firstSshString(blob: Buffer): string {
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString();
}

function setAlgorithms(s: Session, algos: Algorithms, knownTypes: string[]): void {
  const pick = (type: number, wanted: string[]) => {
    const supported = new Set(s.supportedAlgs(type));
    const list = wanted.filter((a) => supported.has(a));
    if (list.length) s.methodPref(type, list.join(','));
  };
  // Host-key algorithms of the key types known_hosts holds for this host go first.
  const hostKey = algos.hostKey ?? DEFAULT_ALGORITHMS.hostKey;
  const known = knownTypes.flatMap((t) => HOSTKEY_ALGOS_OF_TYPE[t] ?? [t]).filter((a) => hostKey.includes(a));
  pick(LIBSSH2_METHOD_KEX, algos.kex ?? DEFAULT_ALGORITHMS.kex);
  pick(LIBSSH2_METHOD_HOSTKEY, [...new Set([...known, ...hostKey])]);
  for (const t of [LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC]) pick(t, algos.cipher ?? DEFAULT_ALGORITHMS.cipher);
  for (const t of [LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC]) pick(t, algos.mac ?? DEFAULT_ALGORITHMS.mac);
}

async function transport(opts: ConnectOptions, port: number, timeoutMs: number): Promise<number | Duplex | Channel> {
  if (opts.sock) return opts.sock; // a Channel is handled by Session.handshake
  const { address } = await dns.promises.lookup(opts.host);
  return native.connect(address, port, timeoutMs);
}

async function verifyHostKey(s: Session, opts: ConnectOptions, port: number, files: string[]): Promise<void> {
  const hk = s.hostkey();
  if (!hk) throw createError(-10, 'libssh2_session_hostkey', 'no host key after the handshake');
  const keyType = firstSshString(hk.key);
  const fingerprint = `SHA256:${s.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA256)!.toString('base64').replace(/=+$/, '')}`;
  const verdict = checkHostKey(readKnownHosts(files), opts.host, port, keyType, hk.key);
  const args = [opts.host, port, keyType, fingerprint] as const;
  if (verdict.status === 'match') return;
  if (verdict.status === 'revoked') {
    throw new HostKeyRevokedError(`the ${keyType} host key of ${opts.host} is revoked (${verdict.line.file}:${verdict.line.line})`, ...args);
  }
  if (verdict.status === 'mismatch') {
    throw new HostKeyMismatchError(`the ${keyType} host key of ${opts.host} (${fingerprint}) differs from ${verdict.line.file}:${verdict.line.line}`, ...args);
  }
  if (opts.hostVerifier && await opts.hostVerifier({ host: opts.host, port, keyType, key: hk.key, fingerprint })) return;
  if (opts.acceptNew) {
    appendKnownHost(files[0], opts.host, port, keyType, hk.key);
    return;
  }
  throw new HostKeyUnknownError(`${opts.host} (${keyType} ${fingerprint}) is not a known host`, ...args);
}

async function authenticate(s: Session, opts: ConnectOptions): Promise<void> {
  const user = opts.username;
  const methods = await s.userauthList(user);
  if (methods === null) return; // "none" succeeded
  let last: unknown;
  const attempt = async (fn: () => Promise<void>) => {
    if (s.userauthAuthenticated()) return;
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      last = e;
    }
  };
  for (const method of methods) {
    if (method === 'publickey') {
      const key = opts.privateKey;
      if (typeof key === 'string' && !key.startsWith('-----BEGIN')) {
        await attempt(() => s.userauthPublickeyFromfile(user, key, opts.passphrase));
      } else if (key !== undefined) {
        await attempt(() => s.userauthPublickeyFrommemory(user, key, opts.passphrase));
      }
      if (opts.agent) await attempt(() => s.userauthAgent(user, typeof opts.agent === 'string' ? opts.agent : undefined));
    } else if (method === 'keyboard-interactive' && opts.tryKeyboard) {
      await attempt(() => s.userauthKeyboardInteractive(user, opts.tryKeyboard!));
    } else if (method === 'password' && opts.password !== undefined) {
      await attempt(() => s.userauthPassword(user, opts.password!));
    }
    if (s.userauthAuthenticated()) return;
  }
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the last method's own error
  throw last ?? new AuthenticationFailedError(`no offered method (${methods.join(',')}) worked for ${user}`, 'connect');
}

/** Connects, checks the host key, authenticates; rejects (and frees the session) on failure. */
export async function connect(opts: ConnectOptions): Promise<Session> {
  if (typeof opts !== 'object' || opts === null || typeof opts.host !== 'string' || typeof opts.username !== 'string') {
    throw new TypeError('connect() needs { host, username }');
  }
  const port = opts.port ?? 22;
  const readyTimeout = opts.readyTimeout ?? 20000;
  const files = opts.knownHosts === undefined ? defaultKnownHosts()
    : Array.isArray(opts.knownHosts) ? opts.knownHosts : [opts.knownHosts];
  const s = new Session();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(createError(LIBSSH2_ERROR_TIMEOUT, 'connect', `not ready within ${readyTimeout} ms`)), readyTimeout);
  });
  try {
    const work = (async () => {
      setAlgorithms(s, opts.algorithms ?? {}, linesFor(readKnownHosts(files), opts.host, port).map((l) => l.keyType));
      const t = await transport(opts, port, readyTimeout);
      try {
        await s.handshake(t);
      } finally {
        if (typeof t === 'number') native.closeFd(t); // the session works on its own dup
      }
      await verifyHostKey(s, opts, port, files);
      await authenticate(s, opts);
    })();
    work.catch(() => undefined); // settled through the race below
    await Promise.race([work, expired]);
    // A caller's own socket cannot be used twice; anything else can connect again (fastGet/fastPut `connections`).
    if (opts.sock === undefined) setReconnect(s, () => connect(opts));
    return s;
  } catch (e) {
    await s.free();
    throw e as Libssh2Error | TimeoutError;
  } finally {
    clearTimeout(timer);
  }
}
