/**
 * `connect(options)`: an authenticated `Session` with safe defaults — modern algorithms, strict
 * host-key checking against known_hosts, the auth methods the server allows in turn, a ready
 * timeout. TypeScript only, on the one-to-one classes.
 */
import * as dns from 'dns';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Duplex } from 'stream';
import { Session, type KbdResponder } from './session';
import { Channel } from './channel';
import { native } from './native';
import {
  HostKeyMismatchError, HostKeyRevokedError, HostKeyUnknownError, AuthError, AuthenticationFailedError,
  createError,
} from './errors';
import {
  LIBSSH2_METHOD_KEX, LIBSSH2_METHOD_HOSTKEY, LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC, LIBSSH2_METHOD_MAC_CS,
  LIBSSH2_METHOD_MAC_SC, LIBSSH2_ERROR_TIMEOUT, LIBSSH2_HOSTKEY_HASH_SHA256, LIBSSH2_ERROR_SOCKET_TIMEOUT,
} from './constants';
import { appendKnownHost, checkHostKey, linesFor, readKnownHosts } from './knownhosts';
import { defaultSshConfigFile, homeDir, parseHostSpec, readSshConfig } from './sshconfig';
import { checkInt } from './check';
import { setReconnect } from './reconnect';

/** Algorithm lists per method type, most preferred first. */
export interface Algorithms {
  kex?: string[];
  hostKey?: string[];
  cipher?: string[];
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

/** A jump host: connect options, or `[user@]host[:port]` (other options come from the target's). */
export type JumpHost = string | (Omit<ConnectOptions, 'jump' | 'sock'> & { host: string });

/** Options of `connect()`: where, who, how to authenticate, and how to check the host key. */
export interface ConnectOptions {
  /** Host name or address (with `config`, a `Host` alias of the configuration). */
  host: string;
  port?: number;
  /** Login name; default: the configuration's `User`, else the local user name. */
  username?: string;
  password?: string;
  /** A key file path, the key as a Buffer, or key text (a string starting with `-----BEGIN`). */
  privateKey?: string | Buffer;
  passphrase?: string;
  /** `true` for `$SSH_AUTH_SOCK`, or the agent socket path. */
  agent?: boolean | string;
  /**
   * Agent forwarding: `true` for `$SSH_AUTH_SOCK` (read when connecting), or the local agent
   * socket path. The session serves the server's agent channels there
   * (`session.setAgentForwarding()`) and its `exec()`, `spawn()` and `shell()` request
   * forwarding (`session.forwardAgent`). Not passed on to jump hosts.
   */
  agentForward?: boolean | string;
  /** Answers keyboard-interactive prompts (tried when the server offers it). */
  tryKeyboard?: KbdResponder;
  /** A connected socket, any Duplex, or a Channel of another session (a jump host). */
  sock?: Duplex | Channel;
  /**
   * Jump hosts, first to last: each is reached through the previous one's `directTcpip`
   * channel, the target through the last. Their sessions close when the returned one closes.
   * String hops (`[user@]host[:port]`) take the target's other options (keys, known_hosts, ...).
   */
  jump?: JumpHost[];
  /**
   * OpenSSH client configuration: `true` for `~/.ssh/config`, or a path. Used keys: Host,
   * HostName, Port, User, IdentityFile, ProxyJump, UserKnownHostsFile, ServerAliveInterval,
   * ServerAliveCountMax; options given here win over it.
   */
  config?: boolean | string;
  /** Time limit for connect + handshake + auth, ms (default 20000), per hop. */
  readyTimeout?: number;
  /**
   * Sends a keepalive (a global request with want-reply, `libssh2_keepalive_send()`) when
   * due, ms (0, the default: off; libssh2 counts whole seconds, at least 2). When nothing
   * arrived from the server for about `keepaliveCountMax` intervals, the session closes with
   * a `ConnectionError` (`SocketTimeoutError`) and pending ops reject with it.
   */
  keepaliveInterval?: number;
  /** Unanswered keepalive intervals before the server counts as dead (default 3). */
  keepaliveCountMax?: number;
  /** Aborts connecting (the session is freed; rejects with the signal's reason). */
  signal?: AbortSignal;
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
  return [path.join(homeDir(), '.ssh', 'known_hosts'), '/etc/ssh/ssh_known_hosts'];
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

/** Options after the configuration and the defaults were applied (one hop). */
interface Resolved extends Omit<ConnectOptions, 'jump' | 'config'> {
  port: number;
  username: string;
  /** Key files of the configuration, tried after `privateKey`. */
  identityFiles: string[];
  knownHostsFiles: string[];
  jump: JumpHost[];
}

const MAX_HOPS = 16;

function configFile(config: ConnectOptions['config']): string | undefined {
  if (config === undefined || config === false) return undefined;
  if (config === true) return defaultSshConfigFile();
  if (typeof config !== 'string') throw new TypeError('config must be true or a path');
  return config;
}

/** Applies the configuration (if any) and the defaults; explicit options win. */
function resolve(opts: ConnectOptions, file: string | undefined): Resolved {
  const cfg = file === undefined ? undefined : readSshConfig(file, opts.host, opts.username);
  const username = opts.username ?? cfg?.user ?? os.userInfo().username;
  const knownHostsFiles = opts.knownHosts !== undefined
    ? (Array.isArray(opts.knownHosts) ? opts.knownHosts : [opts.knownHosts])
    : cfg?.userKnownHostsFiles !== undefined ? [...cfg.userKnownHostsFiles, '/etc/ssh/ssh_known_hosts'] : defaultKnownHosts();
  const keepaliveInterval = opts.keepaliveInterval ??
    (cfg?.serverAliveInterval !== undefined ? cfg.serverAliveInterval * 1000 : undefined);
  return {
    ...opts,
    host: cfg?.host ?? opts.host,
    port: opts.port ?? cfg?.port ?? 22,
    username,
    identityFiles: (cfg?.identityFiles ?? []).filter((f) => fs.existsSync(f)),
    knownHostsFiles,
    keepaliveInterval,
    keepaliveCountMax: opts.keepaliveCountMax ?? cfg?.serverAliveCountMax,
    jump: opts.jump ?? (opts.sock ? undefined : cfg?.proxyJump) ?? [], // a given sock is the transport
  };
}

/** The options of one jump host: a spec string takes the target's other options. */
function hopOptions(hop: JumpHost, target: ConnectOptions): ConnectOptions {
  const inherited: ConnectOptions = {
    host: '', privateKey: target.privateKey, passphrase: target.passphrase, agent: target.agent,
    password: target.password, tryKeyboard: target.tryKeyboard, readyTimeout: target.readyTimeout,
    algorithms: target.algorithms, knownHosts: target.knownHosts, acceptNew: target.acceptNew,
    hostVerifier: target.hostVerifier, config: target.config, signal: target.signal,
  };
  if (typeof hop === 'string') {
    const spec = parseHostSpec(hop);
    return { ...inherited, host: spec.host, port: spec.port, username: spec.username };
  }
  if (typeof hop !== 'object' || hop === null || typeof hop.host !== 'string') {
    throw new TypeError('a jump host is a "[user@]host[:port]" string or options with a host');
  }
  return { ...hop, signal: hop.signal ?? target.signal };
}

async function verifyHostKey(s: Session, opts: Resolved): Promise<void> {
  const hk = s.hostkey();
  if (!hk) throw createError(-10, 'libssh2_session_hostkey', 'no host key after the handshake');
  const { host, port } = opts;
  const keyType = firstSshString(hk.key);
  const fingerprint = `SHA256:${s.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA256)!.toString('base64').replace(/=+$/, '')}`;
  const verdict = checkHostKey(readKnownHosts(opts.knownHostsFiles), host, port, keyType, hk.key);
  const args = [host, port, keyType, fingerprint] as const;
  if (verdict.status === 'match') return;
  if (verdict.status === 'revoked') {
    throw new HostKeyRevokedError(`the ${keyType} host key of ${host} is revoked (${verdict.line.file}:${verdict.line.line})`, ...args);
  }
  if (verdict.status === 'mismatch') {
    throw new HostKeyMismatchError(`the ${keyType} host key of ${host} (${fingerprint}) differs from ${verdict.line.file}:${verdict.line.line}`, ...args);
  }
  if (opts.hostVerifier && await opts.hostVerifier({ host, port, keyType, key: hk.key, fingerprint })) return;
  if (opts.acceptNew) {
    if (opts.knownHostsFiles.length === 0) throw new TypeError('acceptNew needs a known_hosts file to write to');
    appendKnownHost(opts.knownHostsFiles[0], host, port, keyType, hk.key);
    return;
  }
  throw new HostKeyUnknownError(`${host} (${keyType} ${fingerprint}) is not a known host`, ...args);
}

const MAX_AUTH_ROUNDS = 8;

/**
 * Tries the methods the server allows, in its order. libssh2 reports a partial success (RFC 4252
 * 5.1) as a failure: after a round without success the method list is asked again, and a
 * changed list (e.g. `AuthenticationMethods publickey,password` after the key) starts a round
 * with the methods still required. (That query is a "none" request: OpenSSH counts it against
 * MaxAuthTries. libssh2 keeps no method list of a failure reply, so there is no cheaper way.)
 */
async function authenticate(s: Session, opts: Resolved): Promise<void> {
  const user = opts.username;
  let methods = await s.userauthList(user);
  if (methods === null) return; // "none" succeeded
  let last: unknown;
  let tried: boolean;
  const attempt = async (fn: () => Promise<void>) => {
    if (s.userauthAuthenticated()) return;
    tried = true;
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      last = e;
    }
  };
  const keys = [...(opts.privateKey === undefined ? [] : [opts.privateKey]), ...opts.identityFiles];
  const accepted: string[] = []; // lists of methods that partially succeeded
  for (let round = 0; round < MAX_AUTH_ROUNDS; round++) {
    tried = false;
    for (const method of methods) {
      if (method === 'publickey') {
        for (const key of keys) {
          if (typeof key === 'string' && !key.startsWith('-----BEGIN')) {
            await attempt(() => s.userauthPublickeyFromfile(user, key, opts.passphrase));
          } else {
            await attempt(() => s.userauthPublickeyFrommemory(user, key, opts.passphrase));
          }
        }
        if (opts.agent) await attempt(() => s.userauthAgent(user, typeof opts.agent === 'string' ? opts.agent : undefined));
      } else if (method === 'keyboard-interactive' && opts.tryKeyboard) {
        await attempt(() => s.userauthKeyboardInteractive(user, opts.tryKeyboard!));
      } else if (method === 'password' && opts.password !== undefined) {
        await attempt(() => s.userauthPassword(user, opts.password!));
      }
      if (s.userauthAuthenticated()) return;
    }
    if (!tried) break; // nothing of ours fits what the server wants now
    let next: string[] | null;
    try {
      next = await s.userauthList(user);
    } catch {
      break; // e.g. the server's MaxAuthTries reached: report the failed attempt, not this
    }
    if (next === null) return;
    if (next.join(',') === methods.join(',')) break; // no progress
    accepted.push(methods.join(','));
    methods = next;
    last = undefined;
  }
  if (accepted.length) {
    throw new AuthenticationFailedError(`partial success for ${user} (${accepted.join(' then ')} accepted), ` +
      `but the server also requires one of: ${methods.join(',')} — none of the given credentials worked for it`, 'connect');
  }
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- `last` is the failed attempt's Libssh2Error
  throw last ?? new AuthenticationFailedError(`no offered method (${methods.join(',')}) worked for ${user}`, 'connect');
}

/**
 * Keepalive on a timer that never keeps the process alive: `libssh2_keepalive_send()` (our
 * patch makes it take in what arrived first and drop the replies to keepalives), then the time
 * since bytes last arrived decides whether the server is dead.
 */
function startKeepalive(s: Session, intervalMs: number, countMax: number): void {
  const seconds = Math.max(1, Math.round(intervalMs / 1000));
  s.keepaliveConfig(true, seconds);
  // libssh2 sends when `interval` (>= 2) whole seconds passed; ticks come every second at most,
  // so a live server answers at least every interval + 1 s.
  const period = (Math.max(2, seconds) + 1) * 1000;
  const deadAfter = countMax * period + 1000;
  let sending = false;
  const stop = () => clearInterval(timer);
  const tick = () => {
    if (s.closed) {
      stop();
      return;
    }
    if (sending) return;
    sending = true;
    s.keepaliveSend().then(() => {
      sending = false;
      const idle = s.native.state().recvIdleMs;
      if (idle > deadAfter && !s.closed) {
        stop();
        s.native.fail(createError(LIBSSH2_ERROR_SOCKET_TIMEOUT, 'libssh2_keepalive_send',
          `no data from the server for ${Math.round(idle)} ms (keepaliveCountMax ${countMax} x keepaliveInterval ${intervalMs} ms)`));
      }
    }, () => {
      sending = false; // a failure that closes the session ends the timer on the next tick
      if (s.closed) stop();
    });
  };
  const timer = setInterval(tick, Math.min(intervalMs, 1000));
  timer.unref();
  s.once('close', stop);
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** One hop: transport, handshake, host key, auth, within readyTimeout (and the signal). */
async function connectOne(opts: Resolved, via: Session | undefined): Promise<Session> {
  const readyTimeout = opts.readyTimeout ?? 20000;
  checkInt(readyTimeout, 'readyTimeout', 1);
  const s = new Session();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  let settled = false;
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(createError(LIBSSH2_ERROR_TIMEOUT, 'connect', `not ready within ${readyTimeout} ms`)), readyTimeout);
    if (opts.signal) {
      onAbort = () => reject(abortError(opts.signal!));
      opts.signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    opts.signal?.throwIfAborted();
    const work = (async () => {
      setAlgorithms(s, opts.algorithms ?? {}, linesFor(readKnownHosts(opts.knownHostsFiles), opts.host, opts.port).map((l) => l.keyType));
      let t: number | Duplex | Channel;
      if (via) {
        t = await via.directTcpip(opts.host, opts.port);
      } else if (opts.sock) {
        t = opts.sock; // a Channel is handled by Session.handshake
      } else {
        const { address } = await dns.promises.lookup(opts.host);
        t = await native.connect(address, opts.port, readyTimeout);
      }
      if (settled) { // timed out or aborted meanwhile
        if (typeof t === 'number') native.closeFd(t);
        else if (t instanceof Channel) void t.free();
        return;
      }
      try {
        await s.handshake(t);
      } finally {
        if (typeof t === 'number') native.closeFd(t); // the session works on its own dup
      }
      await verifyHostKey(s, opts);
      await authenticate(s, opts);
      if (opts.agentForward) {
        s.setAgentForwarding(typeof opts.agentForward === 'string' ? opts.agentForward : undefined);
        s.forwardAgent = true;
      }
    })();
    work.catch(() => undefined); // settled through the race below
    await Promise.race([work, stopped]);
    return s;
  } catch (e) {
    await s.free();
    throw e;
  } finally {
    settled = true;
    clearTimeout(timer);
    if (onAbort) opts.signal!.removeEventListener('abort', onAbort);
  }
}

/**
 * Connects (through the jump hosts, if any), checks the host key against known_hosts,
 * authenticates with the methods the server allows (following a partial success to the
 * methods still required), serves agent forwarding if asked, and starts the keepalive timer.
 * Rejects (and frees every session it made) on failure: `HostKeyError`s, `AuthError`s,
 * `TimeoutError` (readyTimeout), `ConnectionError`s, or the signal's reason. TypeScript over
 * `libssh2_session_handshake()`, `libssh2_userauth_*()` and `libssh2_channel_direct_tcpip_ex()`.
 */
export async function connect(opts: ConnectOptions): Promise<Session> {
  if (typeof opts !== 'object' || opts === null || typeof opts.host !== 'string' ||
    (opts.username !== undefined && typeof opts.username !== 'string')) {
    throw new TypeError('connect() needs { host, username? }');
  }
  if (opts.port !== undefined) checkInt(opts.port, 'port', 1, 65535);
  if (opts.keepaliveInterval !== undefined) checkInt(opts.keepaliveInterval, 'keepaliveInterval', 0);
  if (opts.keepaliveCountMax !== undefined) checkInt(opts.keepaliveCountMax, 'keepaliveCountMax', 1);
  if (opts.jump !== undefined && !Array.isArray(opts.jump)) throw new TypeError('jump must be an array');
  if (opts.jump?.length && opts.sock) throw new TypeError('jump and sock exclude each other');
  for (const k of ['agent', 'agentForward'] as const) {
    const v = opts[k];
    if (v !== undefined && typeof v !== 'boolean' && (typeof v !== 'string' || v === '')) throw new TypeError(`${k} must be true or a socket path`);
  }
  if (opts.agentForward === true && !process.env.SSH_AUTH_SOCK) throw new TypeError('agentForward: true needs SSH_AUTH_SOCK');
  if (opts.agent === true && !process.env.SSH_AUTH_SOCK) throw new TypeError('agent: true needs SSH_AUTH_SOCK');
  opts.signal?.throwIfAborted();
  const file = configFile(opts.config);
  const target = resolve(opts, file);
  // Hops named by the configuration's ProxyJump may have their own ProxyJump: OpenSSH uses the
  // first hop's, recursively. Expand into one flat list, first hop first.
  const hops: Resolved[] = [];
  const expand = (list: JumpHost[], depth: number, parent: ConnectOptions) => {
    for (const hop of list) {
      if (hops.length >= MAX_HOPS || depth > MAX_HOPS) throw new RangeError(`more than ${MAX_HOPS} jump hosts (a ProxyJump loop?)`);
      const o = hopOptions(hop, parent);
      const r = resolve(o, configFile(o.config));
      if (r.jump.length && hops.length === 0) expand(r.jump, depth + 1, o);
      hops.push(r);
    }
  };
  expand(target.jump, 0, opts);
  const sessions: Session[] = [];
  const closeHops = () => {
    for (const h of [...sessions].reverse()) void h.close();
  };
  try {
    for (const hop of hops) sessions.push(await connectOne(hop, sessions.at(-1)));
    const s = await connectOne(target, sessions.at(-1));
    if (sessions.length) s.once('close', closeHops);
    const interval = target.keepaliveInterval ?? 0;
    if (interval > 0) startKeepalive(s, interval, target.keepaliveCountMax ?? 3);
    // A caller's own socket cannot be used twice; anything else can connect again (fastGet/fastPut `connections`).
    if (opts.sock === undefined) setReconnect(s, () => connect(opts));
    return s;
  } catch (e) {
    for (const h of [...sessions].reverse()) await h.close();
    throw e;
  }
}
