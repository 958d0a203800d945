/**
 * `Session`: one `LIBSSH2_SESSION`, its socket and its op queue. Methods map one-to-one onto
 * libssh2's `libssh2_session_*` and `libssh2_userauth_*` functions (DESIGN.md "API contract").
 */
import { EventEmitter } from 'events';
import * as net from 'net';
import type { Duplex } from 'stream';
import { native, type NativeSession, type ScpStat } from './native';
import type { Libssh2Error } from './errors';
import { Channel } from './channel';
import { Sftp } from './sftp';
import { Listener } from './listener';
import { KnownHosts } from './knownhost';
import { Agent, userauthAgent } from './agent';
import { forwardLocal, forwardRemote, serveAgentChannel, type RemoteForward } from './forward';
import { PublicKeySubsystem } from './publickey';
import { exec, spawn, shell, type ExecOptions, type ExecResult, type RemoteProcess, type ShellOptions, type SpawnOptions } from './exec';
import type { ChannelStream } from './stream';
import { LIBSSH2_ERROR_EAGAIN, SSH_DISCONNECT_BY_APPLICATION } from './constants';
import { inNbCall, installNb, runOp, type Nb } from './nb';
import { badUse, checkInt, checkOptString, checkString, nonBlockingMisuse } from './check';

/** What `handshake()` accepts as a transport. */
export type Transport = number | net.Socket | Duplex | Channel;

/** A keyboard-interactive prompt. */
export interface KbdPrompt {
  text: string;
  echo: boolean;
}

/** Answers the prompts of one keyboard-interactive round, in order. */
export type KbdResponder = (name: string, instruction: string, prompts: KbdPrompt[]) => string[] | Promise<string[]>;

/** Receives an X11 channel the server opened (`LIBSSH2_CALLBACK_X11`) and the X client's address. */
export type X11Handler = (channel: Channel, shost: string, sport: number) => void;

/** Signs `data` with the private key of the public key blob given to `userauthPublickey`. */
export type SignCallback = (data: Buffer) => Buffer | Promise<Buffer>;

function isDuplex(value: unknown): value is Duplex {
  return !!value && typeof (value as Duplex).pipe === 'function' && typeof (value as Duplex).write === 'function' &&
    typeof (value as Duplex).on === 'function';
}

/** The events of a `Session`. */
export interface SessionEvents {
  /**
   * Once, when the session ends: with the `ConnectionError` (or `TimeoutError`) that closed it,
   * or with no argument when it was freed. A session never emits `'error'`.
   */
  close: [error?: Libssh2Error];
}

/**
 * An SSH session (`LIBSSH2_SESSION`). Create it, `handshake()` it over a socket, authenticate,
 * then open channels. Async methods return Promises and never block the event loop; the
 * session runs libssh2 in non-blocking mode and waits on its socket with `uv_poll`.
 * It emits `'close'` once (see {@link SessionEvents}) and never `'error'`.
 */
export class Session extends EventEmitter<SessionEvents> {
  /** @internal */
  readonly native: NativeSession;
  #blocking = true;
  #pump: { pair: net.Socket; stream: Duplex; cleanup: () => void } | undefined;
  #freed = false;
  #nbTransport: Transport | undefined; // the socket of a handshakeNb() that returned EAGAIN
  /**
   * Whether `exec()`, `spawn()` and `shell()` request agent forwarding
   * (`libssh2_channel_request_auth_agent()`) when their `agentForwarding` option is not given;
   * a refused request is then ignored. `connect({ agentForward })` sets it and serves the
   * forwarded channels with {@link Session.setAgentForwarding}. Default false.
   */
  forwardAgent = false;

  // ---- non-blocking twins (lib/nb.ts): one attempt, the value or LIBSSH2_ERROR_EAGAIN ----------

  /** Non-blocking {@link Session.handshake}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare handshakeNb: Nb<Session['handshake']>;
  /** Non-blocking {@link Session.disconnect}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare disconnectNb: Nb<Session['disconnect']>;
  /** Non-blocking {@link Session.free}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare freeNb: Nb<Session['free']>;
  /** Non-blocking {@link Session.keepaliveSend}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare keepaliveSendNb: Nb<Session['keepaliveSend']>;
  /** Non-blocking {@link Session.userauthList}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare userauthListNb: Nb<Session['userauthList']>;
  /** Non-blocking {@link Session.userauthPassword}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare userauthPasswordNb: Nb<Session['userauthPassword']>;
  /** Non-blocking {@link Session.userauthPublickeyFromfile}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare userauthPublickeyFromfileNb: Nb<Session['userauthPublickeyFromfile']>;
  /** Non-blocking {@link Session.userauthPublickeyFrommemory}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare userauthPublickeyFrommemoryNb: Nb<Session['userauthPublickeyFrommemory']>;
  /** Non-blocking {@link Session.userauthPublickey}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare userauthPublickeyNb: Nb<Session['userauthPublickey']>;
  /** Non-blocking {@link Session.userauthKeyboardInteractive}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare userauthKeyboardInteractiveNb: Nb<Session['userauthKeyboardInteractive']>;
  /** Non-blocking {@link Session.userauthHostbasedFromfile}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare userauthHostbasedFromfileNb: Nb<Session['userauthHostbasedFromfile']>;
  /** Non-blocking {@link Session.openSession}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare openSessionNb: Nb<Session['openSession']>;
  /** Non-blocking {@link Session.directTcpip}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare directTcpipNb: Nb<Session['directTcpip']>;
  /** Non-blocking {@link Session.directStreamlocal}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare directStreamlocalNb: Nb<Session['directStreamlocal']>;
  /** Non-blocking {@link Session.forwardListen}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare forwardListenNb: Nb<Session['forwardListen']>;
  /** Non-blocking {@link Session.sftpInit}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare sftpInitNb: Nb<Session['sftpInit']>;
  /** Non-blocking {@link Session.scpRecv2}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare scpRecv2Nb: Nb<Session['scpRecv2']>;
  /** Non-blocking {@link Session.scpSend64}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare scpSend64Nb: Nb<Session['scpSend64']>;
  /** Non-blocking {@link Session.publickeyInit}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare publickeyInitNb: Nb<Session['publickeyInit']>;
  #closeEmitted = false;
  // Held here: the addon holds it weakly.
  readonly #onNativeClose = () => queueMicrotask(() => this.#emitClose(this.closeError));

  /** `libssh2_session_init_ex()`. */
  constructor() {
    super();
    this.native = new native.Session();
    this.native.onClose(this.#onNativeClose);
  }

  #emitClose(error?: Libssh2Error): void {
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    if (error === undefined) this.emit('close');
    else this.emit('close', error);
  }

  /** True once the session lost its connection (or timed out mid-state) or was freed. */
  get closed(): boolean {
    return this.#freed || this.native.state().closed;
  }

  /** The error that closed the session, if a failure closed it. */
  get closeError(): Libssh2Error | undefined {
    return this.native.state().closeError as Libssh2Error | undefined;
  }

  #async(fn: string): void {
    if (this.#freed) throw badUse('the session has been freed', fn);
    if (!this.#blocking) throw nonBlockingMisuse(fn);
  }

  /** A one-to-one op: async, or one attempt inside its `…Nb()` twin (lib/nb.ts). */
  #op<N, R = N>(fn: string, body: () => Promise<N>, map?: (value: N) => R, teardown = false): Promise<R> {
    return runOp(this, fn, () => {
      if (this.#freed) throw badUse('the session has been freed', fn);
    }, body, map, teardown);
  }

  /** Node-native methods (async mode only): a synchronous throw becomes a rejected promise. */
  #run<T>(fn: string, body: () => Promise<T>): Promise<T> {
    try {
      this.#async(fn);
      return body();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // ---- transport ------------------------------------------------------------------------

  /**
   * `libssh2_session_handshake()`: key exchange over `sock`, which is a connected `net.Socket`
   * (its fd is taken over when nothing is buffered yet; the JS socket is then destroyed), a
   * numeric fd (dup'ed; yours stays yours), any Duplex stream (bytes are pumped through a
   * socketpair; the stream is ended when the session ends), or a `Channel` of another session
   * (a jump host: `await jump.directTcpip(host, 22)`).
   */
  handshake(sock: Transport): Promise<void> {
    return this.#op('libssh2_session_handshake', () => {
      if (!inNbCall()) return this.#attach(sock, true);
      // handshakeNb(): the first call sets up the transport, repeats step the pending op.
      if (this.#nbTransport !== undefined) return this.native.handshake(-1);
      const result = this.#attach(sock, false);
      this.#nbTransport = sock;
      return result;
    });
  }

  /** Hands `sock` to libssh2 and starts the handshake op. */
  #attach(sock: Transport, canWait: boolean): Promise<void> {
    if (typeof sock === 'number') {
      checkInt(sock, 'fd', 0);
      return this.native.handshake(sock);
    }
    if (sock instanceof Channel) return this.#handshakeOverStream(sock.stream(), true); // a jump host
    if (sock instanceof net.Socket) {
      if (sock.connecting) {
        if (!canWait) throw badUse('sock is still connecting: wait for its "connect" event', 'libssh2_session_handshake');
        return new Promise<void>((resolve, reject) => {
          sock.once('connect', resolve);
          sock.once('error', reject);
        }).then(() => this.#attach(sock, false));
      }
      // eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access
      const handle = (sock as any)._handle as { fd?: number; readStop?: () => number } | null;
      if (handle && typeof handle.fd === 'number' && handle.fd >= 0 && sock.readableLength === 0 && !sock.destroyed) {
        // Fast path: libssh2 does the I/O itself on a dup of the socket's fd.
        handle.readStop?.();
        const done = this.native.handshake(handle.fd);
        sock.destroy();
        return done;
      }
    }
    if (!isDuplex(sock)) throw new TypeError('sock must be a net.Socket, a file descriptor or a Duplex stream');
    return this.#handshakeOverStream(sock);
  }

  /** `owned`: a stream made here (a jump channel's), destroyed with the session. */
  #handshakeOverStream(stream: Duplex, owned = false): Promise<void> {
    const [mine, theirs] = native.socketpair();
    let done: Promise<void>;
    try {
      done = this.native.handshake(mine); // dup'ed by the addon
    } finally {
      native.closeFd(mine);
    }
    const pair = new net.Socket({ fd: theirs, readable: true, writable: true });
    const endPair = () => { if (!pair.destroyed) pair.end(); };
    const destroyPair = () => pair.destroy();
    stream.on('end', endPair);
    stream.on('error', destroyPair);
    stream.on('close', endPair);
    pair.on('error', () => { /* libssh2 sees the EOF/reset on its end */ });
    stream.pipe(pair);
    pair.pipe(stream);
    const cleanup = () => {
      stream.off('end', endPair);
      stream.off('error', destroyPair);
      stream.off('close', endPair);
      stream.unpipe(pair);
      pair.destroy();
      if (owned) {
        stream.on('error', () => undefined); // its channel may already be gone with its session
        stream.destroy();
      }
    };
    this.#pump = { pair, stream, cleanup };
    return done;
  }

  // ---- modes ----------------------------------------------------------------------------

  /**
   * `libssh2_session_set_blocking()`. `true` (the default) is the async mode: async methods
   * work, `…Nb()` methods throw. `false` is C's non-blocking mode: `…Nb()` methods make one
   * attempt and return `LIBSSH2_ERROR_EAGAIN`; async methods reject with `BadUseError`. The mode
   * changes only while nothing is pending.
   */
  setBlocking(blocking: boolean): void {
    if (this.#freed) throw badUse('the session has been freed', 'libssh2_session_set_blocking');
    if (!!blocking === this.#blocking) return;
    if (this.native.state().busy) throw badUse('the mode changes only while nothing is pending', 'libssh2_session_set_blocking');
    this.native.setBlocking(!!blocking);
    this.#blocking = !!blocking;
  }

  /** `libssh2_session_get_blocking()`. */
  getBlocking(): boolean {
    return this.#blocking;
  }

  // ---- session information (synchronous) --------------------------------------------------

  /** `libssh2_session_hostkey()`: the server's host key, or null before the handshake. */
  hostkey(): { key: Buffer; type: number } | null {
    return this.native.hostkey();
  }

  /** `libssh2_hostkey_hash()`: MD5, SHA1 or SHA256 of the host key; null before the handshake. */
  hostkeyHash(hashType: number): Buffer | null {
    checkInt(hashType, 'hashType');
    return this.native.hostkeyHash(hashType);
  }

  /** `libssh2_session_methods()`: the negotiated method of `methodType`; null before the handshake. */
  methods(methodType: number): string | null {
    checkInt(methodType, 'methodType');
    return this.native.methods(methodType);
  }

  /** `libssh2_session_method_pref()`: comma-separated preferred methods (before the handshake). */
  methodPref(methodType: number, prefs: string): void {
    checkInt(methodType, 'methodType');
    checkString(prefs, 'prefs');
    this.native.methodPref(methodType, prefs);
  }

  /** `libssh2_session_supported_algs()`: every algorithm libssh2 supports for `methodType`. */
  supportedAlgs(methodType: number): string[] {
    checkInt(methodType, 'methodType');
    return this.native.supportedAlgs(methodType);
  }

  /** `libssh2_session_banner_get()`: the server's banner, null before the handshake. */
  bannerGet(): string | null {
    return this.native.bannerGet();
  }

  /** `libssh2_session_banner_set()`: our banner (before the handshake). */
  bannerSet(banner: string): void {
    checkString(banner, 'banner');
    this.native.bannerSet(banner);
  }

  /**
   * `libssh2_session_set_timeout()`: the time limit of every op, in ms (0 = none, the default,
   * as in C). A timed-out op that can be abandoned cleanly (a parked read) rejects alone with
   * `TimeoutError`; one that would leave libssh2 mid-state closes the session.
   */
  setTimeout(ms: number): void {
    checkInt(ms, 'timeout', 0);
    this.native.setTimeout(ms);
  }

  /** `libssh2_session_get_timeout()`. */
  getTimeout(): number {
    if (this.#freed) throw badUse('the session has been freed', 'libssh2_session_get_timeout');
    return this.native.getTimeout();
  }

  /** `libssh2_keepalive_config()`: starts no timer (as in C); call `keepaliveSend()` yourself. */
  keepaliveConfig(wantReply: boolean, interval: number): void {
    checkInt(interval, 'interval', 0);
    this.native.keepaliveConfig(!!wantReply, interval);
  }

  /** `libssh2_session_last_error()`. */
  lastError(): { errno: number; code: string | null; message: string } {
    return this.native.lastError();
  }

  /** `libssh2_session_last_errno()`. */
  lastErrno(): number {
    return this.native.lastErrno();
  }

  /** `libssh2_session_set_last_error()`. */
  setLastError(errno: number, message?: string): number {
    checkInt(errno, 'errno');
    checkOptString(message, 'message');
    return this.native.setLastError(errno, message);
  }

  /** `libssh2_session_block_directions()`: `LIBSSH2_SESSION_BLOCK_INBOUND`/`OUTBOUND` bits. */
  blockDirections(): number {
    return this.native.blockDirections();
  }

  /**
   * Waits until the session's socket is ready in the directions libssh2 waits for
   * (`blockDirections()`, as the C examples' `waitsocket()` does with select(2)); a half-sent
   * packet always waits for writability, and no direction known waits for either. Resolves to
   * true when ready, false when `timeoutMs` passed first (default: the session's timeout;
   * 0 = none). It also resolves when another `…Nb()` call received data meanwhile (libssh2 may
   * then hold what this waiter waits for). Works in both modes; rejects with the session's
   * error once it is closed. Uses `uv_poll`: no thread waits.
   */
  waitSocket(timeoutMs?: number): Promise<boolean> {
    try {
      if (this.#freed) throw badUse('the session has been freed', 'waitSocket');
      if (timeoutMs !== undefined) checkInt(timeoutMs, 'timeoutMs', 0, 0x7fffffff);
      return this.native.waitSocket(timeoutMs ?? this.getTimeout());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** `libssh2_session_flag()`: `LIBSSH2_FLAG_SIGPIPE`, `LIBSSH2_FLAG_COMPRESS` (before the handshake). */
  flag(flag: number, value: number): void {
    checkInt(flag, 'flag');
    checkInt(value, 'value');
    this.native.flag(flag, value);
  }

  /**
   * `libssh2_trace()` and `libssh2_trace_sethandler()`: debug output for the `LIBSSH2_TRACE_*`
   * bits of `bitmask`, to `handler` (one call per line, on the main thread) or to stderr.
   */
  trace(bitmask: number, handler?: (line: string) => void): void {
    checkInt(bitmask, 'bitmask');
    if (handler !== undefined && typeof handler !== 'function') throw new TypeError('handler must be a function');
    this.native.trace(bitmask, handler);
  }

  /** Keep the event loop alive while this session is idle. */
  ref(): this {
    this.native.ref();
    return this;
  }

  /** Let the process exit even while ops of this session are pending. */
  unref(): this {
    this.native.unref();
    return this;
  }

  /** `libssh2_userauth_authenticated()`. */
  userauthAuthenticated(): boolean {
    return this.native.userauthAuthenticated();
  }

  /** `libssh2_userauth_banner()`: the server's pre-auth banner message, or null. */
  userauthBanner(): string | null {
    return this.native.userauthBanner();
  }

  // ---- async (ops on the queue) -----------------------------------------------------------

  /**
   * `libssh2_session_disconnect_ex()` (language tag always empty). Works in both modes, as the
   * other teardown calls do.
   */
  disconnect(description = '', reason: number = SSH_DISCONNECT_BY_APPLICATION): Promise<void> {
    if (this.#freed) return (inNbCall() ? 0 : Promise.resolve()) as Promise<void>;
    return this.#op('libssh2_session_disconnect_ex', () => {
      checkString(description, 'description');
      checkInt(reason, 'reason');
      return this.native.disconnect(description, reason);
    }, undefined, true);
  }

  /**
   * `libssh2_session_free()`: frees the session, its channels, and closes its socket, without
   * further network traffic (use `close()` or `disconnect()` first for a polite goodbye).
   * Pending ops reject with `BadUseError`. Idempotent; also happens on garbage collection.
   */
  free(): Promise<void> {
    if (this.#freed) return (inNbCall() ? 0 : Promise.resolve()) as Promise<void>;
    const cleanup = (): void => {
      this.#pump?.cleanup();
      this.#pump = undefined;
      this.#emitClose();
    };
    return runOp(this, 'libssh2_session_free', () => {
      if (this.native.state().inCallback) {
        throw badUse('free() cannot run inside a callback of this session (sign, keyboard-interactive, password change): call it after the callback returned', 'libssh2_session_free');
      }
    }, () => {
      this.#freed = true;
      let result: Promise<void> | number;
      try {
        result = this.native.free();
      } catch (e) {
        cleanup();
        throw e;
      }
      if (result === LIBSSH2_ERROR_EAGAIN) this.#freed = false; // freeNb(): repeat it
      else if (!(result instanceof Promise)) cleanup();
      else return result.finally(cleanup);
      return result as unknown as Promise<void>;
    }, undefined, true);
  }

  /**
   * Disconnect, then free: `libssh2_session_disconnect_ex` (`SSH_DISCONNECT_BY_APPLICATION`)
   * then `libssh2_session_free`. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#freed) return;
    try {
      await this.disconnect();
    } catch {
      // The connection is gone: freeing is all that is left.
    }
    await this.free();
  }

  /** `await using session = new Session()`: close() on scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** `libssh2_keepalive_send()`: resolves to the seconds until the next one is due. */
  keepaliveSend(): Promise<number> {
    return this.#op('libssh2_keepalive_send', () => this.native.keepaliveSend());
  }

  /**
   * `libssh2_userauth_list()`: the methods the server accepts, or null if "none" auth succeeded
   * (also null, without asking the server, once the session is authenticated). Every other
   * `userauth*()` method rejects at once with `BadUseError` on an authenticated session: the
   * server would silently ignore the request.
   */
  userauthList(username: string): Promise<string[] | null> {
    return this.#op('libssh2_userauth_list', () => {
      checkString(username, 'username');
      return this.native.userauthList(username);
    });
  }

  /**
   * `libssh2_userauth_password_ex()`. `onPasswordChange` answers the server's password-change
   * request with the new password; without it an expired password fails with
   * `PasswordExpiredError`.
   */
  userauthPassword(username: string, password: string, onPasswordChange?: () => string): Promise<void> {
    return this.#op('libssh2_userauth_password_ex', () => {
      checkString(username, 'username');
      checkString(password, 'password');
      if (onPasswordChange !== undefined && typeof onPasswordChange !== 'function') {
        throw new TypeError('onPasswordChange must be a function');
      }
      return this.native.userauthPassword(username, password, onPasswordChange);
    });
  }

  /** `libssh2_userauth_publickey_fromfile_ex()`. */
  userauthPublickeyFromfile(username: string, privkeyPath: string, passphrase?: string, pubkeyPath?: string): Promise<void> {
    return this.#op('libssh2_userauth_publickey_fromfile_ex', () => {
      checkString(username, 'username');
      checkString(privkeyPath, 'privkeyPath');
      checkOptString(passphrase, 'passphrase');
      checkOptString(pubkeyPath, 'pubkeyPath');
      return this.native.userauthPublickeyFromfile(username, privkeyPath, passphrase, pubkeyPath);
    });
  }

  /** `libssh2_userauth_publickey_frommemory()`: the key as text or Buffer (PEM or OpenSSH format). */
  userauthPublickeyFrommemory(username: string, privkey: string | Buffer, passphrase?: string, pubkey?: string | Buffer): Promise<void> {
    return this.#op('libssh2_userauth_publickey_frommemory', () => {
      checkString(username, 'username');
      if (typeof privkey !== 'string' && !Buffer.isBuffer(privkey)) throw new TypeError('privkey must be a string or a Buffer');
      checkOptString(passphrase, 'passphrase');
      if (pubkey !== undefined && pubkey !== null && typeof pubkey !== 'string' && !Buffer.isBuffer(pubkey)) {
        throw new TypeError('pubkey must be a string or a Buffer');
      }
      return this.native.userauthPublickeyFrommemory(username, privkey, passphrase, pubkey);
    });
  }

  /**
   * `libssh2_userauth_publickey()` with a sign callback: `pubkeyBlob` is the SSH wire-format
   * public key; `sign(data)` returns the raw signature over `data` (for ssh-ed25519 the 64-byte
   * signature, for ecdsa-sha2-* the SSH-encoded (r, s) pair), or a Promise of it. No thread waits
   * for a Promise: the op parks until it settles.
   */
  userauthPublickey(username: string, pubkeyBlob: Buffer, sign: SignCallback): Promise<void> {
    return this.#op('libssh2_userauth_publickey', () => {
      checkString(username, 'username');
      if (!Buffer.isBuffer(pubkeyBlob)) throw new TypeError('pubkeyBlob must be a Buffer');
      if (typeof sign !== 'function') throw new TypeError('sign must be a function');
      return this.native.userauthPublickey(username, pubkeyBlob, sign);
    });
  }

  /**
   * `libssh2_userauth_keyboard_interactive_ex()`. The responder may return its answers or a
   * Promise of them; libssh2 asks from inside a callback that must answer synchronously, so the
   * step that reaches it runs on a pool thread that waits for the answer (bounded by the
   * session's timeout).
   */
  userauthKeyboardInteractive(username: string, responder: KbdResponder): Promise<void> {
    return this.#op('libssh2_userauth_keyboard_interactive_ex', () => {
      checkString(username, 'username');
      if (typeof responder !== 'function') throw new TypeError('responder must be a function');
      return this.native.userauthKeyboardInteractive(username, responder);
    });
  }

  /** `libssh2_channel_open_session()` (`libssh2_channel_open_ex` with type "session"). */
  openSession(windowSize?: number, packetSize?: number): Promise<Channel> {
    return this.#op('libssh2_channel_open_ex', () => {
      if (windowSize !== undefined) checkInt(windowSize, 'windowSize', 1, 0x7fffffff);
      if (packetSize !== undefined) checkInt(packetSize, 'packetSize', 1, 0x7fffffff);
      return this.native.openSession(windowSize, packetSize);
    }, (n) => new Channel(this, n));
  }

  /**
   * `libssh2_channel_direct_tcpip_ex()`: a channel to `host:port` as seen from the server
   * (`shost:sport` is what the server is told the connection comes from).
   */
  directTcpip(host: string, port: number, shost = '127.0.0.1', sport = 22): Promise<Channel> {
    return this.#op('libssh2_channel_direct_tcpip_ex', () => {
      checkString(host, 'host');
      checkInt(port, 'port', 0, 65535);
      checkString(shost, 'shost');
      checkInt(sport, 'sport', 0, 65535);
      return this.native.directTcpip(host, port, shost, sport);
    }, (n) => new Channel(this, n));
  }

  /** `libssh2_channel_direct_streamlocal_ex()`: a channel to a unix socket on the server. */
  directStreamlocal(socketPath: string, shost = '127.0.0.1', sport = 22): Promise<Channel> {
    return this.#op('libssh2_channel_direct_streamlocal_ex', () => {
      checkString(socketPath, 'socketPath');
      checkString(shost, 'shost');
      checkInt(sport, 'sport', 0, 65535);
      return this.native.directStreamlocal(socketPath, shost, sport);
    }, (n) => new Channel(this, n));
  }

  /**
   * `libssh2_channel_forward_listen_ex()`: the server listens on `host:port` (port 0: it picks
   * one, see `listener.boundPort`) and forwards connections to `listener.forwardAccept()`.
   */
  forwardListen(port: number, host?: string, queueMaxsize = 16): Promise<Listener> {
    return this.#op('libssh2_channel_forward_listen_ex', () => {
      checkInt(port, 'port', 0, 65535);
      checkOptString(host, 'host');
      checkInt(queueMaxsize, 'queueMaxsize', 1, 0x7fffffff);
      return this.native.forwardListen(port, host, queueMaxsize);
    }, (n) => new Listener(this, n));
  }

  /**
   * A local TCP server whose connections are forwarded through this session to
   * `remoteHost:remotePort` (`localPort` 0: any free port, see `server.address()`), one
   * `libssh2_channel_direct_tcpip_ex` channel per connection (Node-native layer).
   */
  forwardLocal(localPort: number, remoteHost: string, remotePort: number, localHost?: string): Promise<net.Server> {
    return this.#run('libssh2_channel_direct_tcpip_ex', () => {
      checkInt(localPort, 'localPort', 0, 65535);
      checkString(remoteHost, 'remoteHost');
      checkInt(remotePort, 'remotePort', 0, 65535);
      checkOptString(localHost, 'localHost');
      return forwardLocal(this, localPort, remoteHost, remotePort, localHost);
    });
  }

  /**
   * The server listens on `remotePort` (0: it picks, see `boundPort`) and each connection is
   * piped to `localHost:localPort` here. `close()` stops it. Built on
   * `libssh2_channel_forward_listen_ex` and `libssh2_channel_forward_accept` (Node-native layer).
   */
  forwardRemote(remotePort: number, localHost: string, localPort: number): Promise<RemoteForward> {
    return this.#run('libssh2_channel_forward_listen_ex', () => {
      checkInt(remotePort, 'remotePort', 0, 65535);
      checkString(localHost, 'localHost');
      checkInt(localPort, 'localPort', 0, 65535);
      return forwardRemote(this, remotePort, localHost, localPort, '127.0.0.1');
    });
  }

  /**
   * Runs `command` (`libssh2_channel_exec()` on a new channel): its stdout, stderr, exit status
   * and signal, with stdin from `input` (Node-native layer). Strings with `encoding`.
   */
  exec(command: string, opts: ExecOptions & { encoding: BufferEncoding }): Promise<ExecResult<string>>;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult<Buffer | string>> {
    return this.#run('libssh2_channel_process_startup', () => exec(this, command, opts));
  }

  /**
   * Starts `command` (`libssh2_channel_exec()` on a new channel) and resolves, once it runs, to
   * a ChildProcess-like {@link RemoteProcess}: stdin/stdout/stderr streams, `kill(signal)`,
   * `'exit'` and `'close'` events (Node-native layer).
   */
  spawn(command: string, opts?: SpawnOptions): Promise<RemoteProcess> {
    return this.#run('libssh2_channel_process_startup', () => spawn(this, command, opts));
  }

  /**
   * An interactive shell on a pty (`libssh2_channel_request_pty_ex()` then
   * `libssh2_channel_shell()`): a Duplex (the terminal; `.channel.requestPtySize()` resizes it)
   * that emits `'exit'` and `'close'` (Node-native layer).
   */
  shell(opts?: ShellOptions): Promise<ChannelStream> {
    return this.#run('libssh2_channel_shell', () => shell(this, opts));
  }

  /** `libssh2_knownhost_init()`: an empty known-hosts collection (synchronous). */
  knownhostInit(): KnownHosts {
    if (this.#freed) throw badUse('the session has been freed', 'libssh2_knownhost_init');
    return new KnownHosts(this, this.native.knownhostInit());
  }

  /** `libssh2_agent_init()`: an agent handle (synchronous; `connect()` it). */
  agentInit(): Agent {
    if (this.#freed) throw badUse('the session has been freed', 'libssh2_agent_init');
    return new Agent(this, this.native.agentInit());
  }

  /**
   * Authenticates with each identity of the SSH agent until one works (as ssh2-python).
   * `agentPath` is the agent socket (default `$SSH_AUTH_SOCK`). Built on `libssh2_agent_connect`,
   * `libssh2_agent_list_identities` and `libssh2_agent_userauth`.
   */
  userauthAgent(username: string, agentPath?: string): Promise<void> {
    return this.#run('libssh2_agent_userauth', () => {
      checkString(username, 'username');
      checkOptString(agentPath, 'agentPath');
      return userauthAgent(this, username, agentPath);
    });
  }

  /** `libssh2_publickey_init()`: the "publickey" subsystem (RFC 4819) on a new channel. */
  publickeyInit(): Promise<PublicKeySubsystem> {
    return this.#op('libssh2_publickey_init', () => this.native.publickeyInit(), (n) => new PublicKeySubsystem(this, n));
  }

  /**
   * Serves agent forwarding: sets libssh2's `LIBSSH2_CALLBACK_AUTHAGENT` so that every
   * "auth-agent@openssh.com" channel the server opens is piped to the local agent socket
   * `agentPath` (default `$SSH_AUTH_SOCK`, read now). Call it before
   * `channel.requestAuthAgent()`. `null` stops serving: libssh2 then refuses such channels.
   */
  setAgentForwarding(agentPath?: string | null): void {
    const fn = 'libssh2_session_callback_set2';
    if (this.#freed) throw badUse('the session has been freed', fn);
    if (agentPath === null) {
      this.native.setChannelHandler(0, undefined);
      return;
    }
    checkOptString(agentPath, 'agentPath');
    const target = agentPath ?? process.env.SSH_AUTH_SOCK;
    if (!target) throw badUse('no agent socket: pass agentPath or set SSH_AUTH_SOCK', fn);
    this.native.setChannelHandler(0, (ch) => serveAgentChannel(new Channel(this, ch), target));
  }

  /**
   * Sets libssh2's `LIBSSH2_CALLBACK_X11`: every "x11" channel the server opens (after
   * `channel.x11Req()`) goes to `handler` with the X client's address, on the main thread; pipe
   * it to your X server and free it when done. `null` removes it: libssh2 then refuses them.
   */
  setX11Handler(handler: X11Handler | null): void {
    const fn = 'libssh2_session_callback_set2';
    if (this.#freed) throw badUse('the session has been freed', fn);
    if (handler === null || handler === undefined) {
      this.native.setChannelHandler(1, undefined);
      return;
    }
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    this.native.setChannelHandler(1, (ch, shost, sport) => handler(new Channel(this, ch), shost ?? '', sport ?? 0));
  }

  /** `libssh2_sftp_init()`: an SFTP session on a new channel. */
  sftpInit(): Promise<Sftp> {
    return this.#op('libssh2_sftp_init', () => this.native.sftpInit(), (n) => new Sftp(this, n));
  }

  /**
   * `libssh2_scp_recv2()`: a channel that yields the remote file's `stat.size` bytes (read exactly
   * that many, then free the channel) and the file's size, mode and times.
   */
  scpRecv2(path: string): Promise<{ channel: Channel; stat: ScpStat }> {
    return this.#op('libssh2_scp_recv2', () => {
      checkString(path, 'path');
      return this.native.scpRecv2(path);
    }, (r) => ({ channel: new Channel(this, r.channel), stat: r.stat }));
  }

  /**
   * `libssh2_scp_send64()`: a channel to write exactly `size` bytes of the new remote file to,
   * then one zero byte (SCP's acknowledgement: OpenSSH applies `mtime`/`atime` only after it),
   * then `sendEof()`, `waitEof()`, `close()`.
   */
  scpSend64(path: string, mode: number, size: number, mtime?: number, atime?: number): Promise<Channel> {
    return this.#op('libssh2_scp_send64', () => {
      checkString(path, 'path');
      checkInt(mode, 'mode', 0, 0o7777);
      checkInt(size, 'size', 0, Number.MAX_SAFE_INTEGER);
      if (mtime !== undefined) checkInt(mtime, 'mtime', 0, Number.MAX_SAFE_INTEGER);
      if (atime !== undefined) checkInt(atime, 'atime', 0, Number.MAX_SAFE_INTEGER);
      return this.native.scpSend64(path, mode, size, mtime, atime);
    }, (n) => new Channel(this, n));
  }

  /** `libssh2_userauth_hostbased_fromfile_ex()`: `localUser` defaults to `username`. */
  userauthHostbasedFromfile(username: string, privkeyPath: string, hostname: string, passphrase?: string,
    pubkeyPath?: string, localUser?: string): Promise<void> {
    return this.#op('libssh2_userauth_hostbased_fromfile_ex', () => {
      checkString(username, 'username');
      checkString(privkeyPath, 'privkeyPath');
      checkString(hostname, 'hostname');
      checkOptString(passphrase, 'passphrase');
      checkOptString(pubkeyPath, 'pubkeyPath');
      checkOptString(localUser, 'localUser');
      return this.native.userauthHostbasedFromfile(username, privkeyPath, hostname, passphrase, pubkeyPath, localUser);
    });
  }
}

/** The `…Nb()` twins of every async one-to-one method whose C function can return EAGAIN. */
export const SESSION_NB_METHODS = [
  'handshake',
  'disconnect',
  'free',
  'keepaliveSend',
  'userauthList',
  'userauthPassword',
  'userauthPublickeyFromfile',
  'userauthPublickeyFrommemory',
  'userauthPublickey',
  'userauthKeyboardInteractive',
  'userauthHostbasedFromfile',
  'openSession',
  'directTcpip',
  'directStreamlocal',
  'forwardListen',
  'sftpInit',
  'scpRecv2',
  'scpSend64',
  'publickeyInit',
] as const;
installNb(Session, SESSION_NB_METHODS, (s) => s);
