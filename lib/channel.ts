/**
 * `Channel`: one `LIBSSH2_CHANNEL` (`libssh2_channel_*`).
 *
 * Reading without deadlocks: stdout and stderr share one receive window, and libssh2 credits it
 * back only as you read. A command that writes much to stderr while you only read stdout stalls
 * once the window is full (LIBSSH2-PITFALLS.md item 16). Keep a read pending on both streams
 * (two reads, one per stream, may be pending at once), or merge them with
 * `handleExtendedData(LIBSSH2_CHANNEL_EXTENDED_DATA_MERGE)`. A stream is at EOF when `read()`
 * on it resolves to an empty Buffer.
 */
import type { Session } from './session';
import type { NativeChannel } from './native';
import { LIBSSH2_ERROR_EAGAIN, SSH_EXTENDED_DATA_STDERR } from './constants';
import { fail, inNbCall, installNb, runOp, type Nb } from './nb';
import { channelStream, type ChannelStream } from './stream';
import { badUse, checkInt, checkString, toBuffer } from './check';

const MAX_READ = 1 << 30;

/** `libssh2_channel_get_exit_signal()`: the signal name without "SIG", or null. */
export interface ExitSignal {
  signal: string | null;
  message: string | null;
  lang: string | null;
}

/**
 * An SSH channel, from `session.openSession()`. Async methods return Promises; the channel
 * keeps its session alive. After `close()`, methods that send reject with `BadUseError`;
 * after `free()`, every method does.
 */
export class Channel {
  /** @internal */
  readonly native: NativeChannel;
  /** The session this channel belongs to. */
  readonly session: Session;
  #closing: Promise<void> | undefined;
  #closingNb = false; // closeNb() returned EAGAIN: sends are refused already
  #freeing: Promise<void> | undefined;

  // ---- non-blocking twins (lib/nb.ts): one attempt, the value or LIBSSH2_ERROR_EAGAIN ----------

  /** Non-blocking {@link Channel.setenv}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare setenvNb: Nb<Channel['setenv']>;
  /** Non-blocking {@link Channel.requestPty}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare requestPtyNb: Nb<Channel['requestPty']>;
  /** Non-blocking {@link Channel.requestPtySize}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare requestPtySizeNb: Nb<Channel['requestPtySize']>;
  /** Non-blocking {@link Channel.processStartup}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare processStartupNb: Nb<Channel['processStartup']>;
  /** Non-blocking {@link Channel.exec}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare execNb: Nb<Channel['exec']>;
  /** Non-blocking {@link Channel.shell}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare shellNb: Nb<Channel['shell']>;
  /** Non-blocking {@link Channel.subsystem}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare subsystemNb: Nb<Channel['subsystem']>;
  /** Non-blocking {@link Channel.x11Req}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare x11ReqNb: Nb<Channel['x11Req']>;
  /** Non-blocking {@link Channel.requestAuthAgent}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare requestAuthAgentNb: Nb<Channel['requestAuthAgent']>;
  /** Non-blocking {@link Channel.signal}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare signalNb: Nb<Channel['signal']>;
  /** Non-blocking {@link Channel.read}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare readNb: Nb<Channel['read']>;
  /** Non-blocking {@link Channel.readStderr}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare readStderrNb: Nb<Channel['readStderr']>;
  /** Non-blocking {@link Channel.readInto}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare readIntoNb: Nb<Channel['readInto']>;
  /** Non-blocking {@link Channel.write}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare writeNb: Nb<Channel['write']>;
  /** Non-blocking {@link Channel.writeStderr}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare writeStderrNb: Nb<Channel['writeStderr']>;
  /** Non-blocking {@link Channel.flush}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare flushNb: Nb<Channel['flush']>;
  /** Non-blocking {@link Channel.sendEof}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare sendEofNb: Nb<Channel['sendEof']>;
  /** Non-blocking {@link Channel.waitEof}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare waitEofNb: Nb<Channel['waitEof']>;
  /** Non-blocking {@link Channel.close}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare closeNb: Nb<Channel['close']>;
  /** Non-blocking {@link Channel.waitClosed}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare waitClosedNb: Nb<Channel['waitClosed']>;
  /** Non-blocking {@link Channel.free}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare freeNb: Nb<Channel['free']>;
  /** Non-blocking {@link Channel.receiveWindowAdjust}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare receiveWindowAdjustNb: Nb<Channel['receiveWindowAdjust']>;
  /** Non-blocking {@link Channel.handleExtendedData}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare handleExtendedDataNb: Nb<Channel['handleExtendedData']>;

  /** @internal Channels come from Session methods. */
  constructor(session: Session, native: NativeChannel) {
    this.session = session;
    this.native = native;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined || this.#closingNb;
  }

  #check(fn: string, sends: boolean): void {
    if (this.#freeing || this.native.isFreed()) throw badUse('the channel has been freed', fn);
    if (sends && this.closed) throw badUse('the channel is closed', fn);
  }

  /** A one-to-one op: async, or one attempt inside its `…Nb()` twin (lib/nb.ts). */
  #run<T>(fn: string, sends: boolean, body: () => Promise<T>, teardown = false): Promise<T> {
    return runOp(this.session, fn, () => this.#check(fn, sends), body, undefined, teardown);
  }

  #sync<T>(fn: string, body: () => T): T {
    if (this.#freeing || this.native.isFreed()) throw badUse('the channel has been freed', fn);
    return body();
  }

  // ---- setup ----------------------------------------------------------------------------

  /** `libssh2_channel_setenv_ex()`: the server accepts only names its AcceptEnv lists. */
  setenv(name: string, value: string): Promise<void> {
    return this.#run('libssh2_channel_setenv_ex', true, () => {
      checkString(name, 'name');
      checkString(value, 'value');
      return this.native.setenv(name, value);
    });
  }

  /**
   * `libssh2_channel_request_pty_ex()`: `modes` is the encoded terminal modes string of RFC 4254;
   * size in characters (default 80×24).
   */
  requestPty(term = 'vanilla', modes?: Buffer | string, width?: number, height?: number): Promise<void> {
    return this.#run('libssh2_channel_request_pty_ex', true, () => {
      checkString(term, 'term');
      if (width !== undefined) checkInt(width, 'width', 0, 0x7fffffff);
      if (height !== undefined) checkInt(height, 'height', 0, 0x7fffffff);
      return this.native.requestPty(term, modes === undefined ? undefined : toBuffer(modes, 'modes'), width, height);
    });
  }

  /** `libssh2_channel_request_pty_size_ex()`. */
  requestPtySize(width: number, height: number, widthPx?: number, heightPx?: number): Promise<void> {
    return this.#run('libssh2_channel_request_pty_size_ex', true, () => {
      checkInt(width, 'width', 0, 0x7fffffff);
      checkInt(height, 'height', 0, 0x7fffffff);
      if (widthPx !== undefined) checkInt(widthPx, 'widthPx', 0, 0x7fffffff);
      if (heightPx !== undefined) checkInt(heightPx, 'heightPx', 0, 0x7fffffff);
      return this.native.requestPtySize(width, height, widthPx, heightPx);
    });
  }

  /** `libssh2_channel_process_startup()`: "exec", "shell", "subsystem" or another request. */
  processStartup(request: string, message?: string | Buffer): Promise<void> {
    return this.#run('libssh2_channel_process_startup', true, () => {
      checkString(request, 'request');
      return this.native.processStartup(request, message === undefined ? undefined : toBuffer(message, 'message'));
    });
  }

  /** `libssh2_channel_exec()`. */
  exec(command: string): Promise<void> {
    if (typeof command !== 'string') return fail(new TypeError('command must be a string'));
    return this.processStartup('exec', command);
  }

  /** `libssh2_channel_shell()`. */
  shell(): Promise<void> {
    return this.processStartup('shell');
  }

  /** `libssh2_channel_subsystem()`. */
  subsystem(name: string): Promise<void> {
    if (typeof name !== 'string') return fail(new TypeError('name must be a string'));
    return this.processStartup('subsystem', name);
  }

  /** `libssh2_channel_x11_req_ex()`. */
  x11Req(screenNumber: number, singleConnection = false, authProto?: string, authCookie?: string): Promise<void> {
    return this.#run('libssh2_channel_x11_req_ex', true, () => {
      checkInt(screenNumber, 'screenNumber', 0, 0x7fffffff);
      return this.native.x11Req(screenNumber, singleConnection, authProto, authCookie);
    });
  }

  /** `libssh2_channel_request_auth_agent()`: before exec/shell. */
  requestAuthAgent(): Promise<void> {
    return this.#run('libssh2_channel_request_auth_agent', true, () => this.native.requestAuthAgent());
  }

  /** `libssh2_channel_signal_ex()`: e.g. 'TERM' (no "SIG" prefix). */
  signal(signame: string): Promise<void> {
    return this.#run('libssh2_channel_signal_ex', true, () => {
      checkString(signame, 'signame');
      return this.native.signal(signame);
    });
  }

  // ---- data -----------------------------------------------------------------------------

  /**
   * `libssh2_channel_read_ex()`: at most `size` bytes of `streamId` (0 stdout, 1 stderr) as soon
   * as any are there; an empty Buffer at EOF of that stream.
   */
  read(size = 32768, streamId = 0): Promise<Buffer> {
    return this.#run('libssh2_channel_read_ex', false, () => {
      checkInt(size, 'size', 1, MAX_READ);
      checkInt(streamId, 'streamId', 0, 0x7fffffff);
      return this.native.read(size, streamId);
    });
  }

  /** `libssh2_channel_read_stderr()`. */
  readStderr(size = 32768): Promise<Buffer> {
    return this.read(size, SSH_EXTENDED_DATA_STDERR);
  }

  /** `libssh2_channel_read_ex()` into `buf`: resolves to the byte count (0 at EOF). */
  readInto(buf: Buffer | Uint8Array, streamId = 0): Promise<number> {
    return this.#run('libssh2_channel_read_ex', false, () => {
      if (!(buf instanceof Uint8Array) || buf.byteLength === 0) throw new TypeError('buf must be a non-empty Buffer');
      checkInt(streamId, 'streamId', 0, 0x7fffffff);
      return this.native.readInto(toBuffer(buf, 'buf'), streamId);
    });
  }

  /**
   * `libssh2_channel_write_ex()`: writes all of `data` (waiting for window space as needed) and
   * resolves to its length. The bytes are copied: `data` may be reused at once.
   */
  write(data: Buffer | Uint8Array | string, streamId = 0): Promise<number> {
    return this.#run('libssh2_channel_write_ex', true, () => {
      checkInt(streamId, 'streamId', 0, 0x7fffffff);
      return this.native.write(toBuffer(data, 'data'), streamId);
    });
  }

  /** `libssh2_channel_write_stderr()`. */
  writeStderr(data: Buffer | Uint8Array | string): Promise<number> {
    return this.write(data, SSH_EXTENDED_DATA_STDERR);
  }

  /** `libssh2_channel_flush_ex()`: discards unread data of `streamId`; resolves to the byte count. */
  flush(streamId = 0): Promise<number> {
    return this.#run('libssh2_channel_flush_ex', false, () => {
      checkInt(streamId, 'streamId', -2, 0x7fffffff);
      return this.native.flush(streamId);
    });
  }

  // ---- EOF, close, exit status -----------------------------------------------------------

  /** `libssh2_channel_send_eof()`: after every write queued before it. */
  sendEof(): Promise<void> {
    return this.#run('libssh2_channel_send_eof', true, () => this.native.sendEof());
  }

  /** `libssh2_channel_eof()`: true once the peer sent EOF and no data is left unread. */
  eof(): boolean {
    return this.#sync('libssh2_channel_eof', () => this.native.eof());
  }

  /** `libssh2_channel_wait_eof()`: resolves once the peer sent EOF (read the data first). */
  waitEof(): Promise<void> {
    return this.#run('libssh2_channel_wait_eof', false, () => this.native.waitEof());
  }

  /**
   * `libssh2_channel_close()`: sends EOF and CLOSE after every queued write, and resolves once
   * the peer's CLOSE arrived, so the exit status is final. Idempotent.
   */
  close(): Promise<void> {
    const nb = inNbCall();
    if (this.#closing) return nb ? (0 as unknown as Promise<void>) : this.#closing;
    const closing = this.#run('libssh2_channel_close', false, () => this.native.close(), true);
    if (!nb) this.#closing = closing;
    else if ((closing as unknown) === LIBSSH2_ERROR_EAGAIN) this.#closingNb = true;
    else this.#closing = Promise.resolve();
    return closing;
  }

  /** `libssh2_channel_wait_closed()`: after the peer's EOF, resolves once its CLOSE arrived. */
  waitClosed(): Promise<void> {
    return this.#run('libssh2_channel_wait_closed', false, () => this.native.waitClosed());
  }

  /**
   * `libssh2_channel_get_exit_status()`: the command's exit status, or null when none was
   * received (yet).
   */
  getExitStatus(): number | null {
    return this.#sync('libssh2_channel_get_exit_status', () => this.native.getExitStatus());
  }

  /** `libssh2_channel_get_exit_signal()`. */
  getExitSignal(): ExitSignal {
    return this.#sync('libssh2_channel_get_exit_signal', () => this.native.getExitSignal());
  }

  /**
   * `libssh2_channel_free()`: pending reads reject with `BadUseError`; a half-sent write
   * finishes first. Idempotent; also happens on garbage collection.
   */
  free(): Promise<void> {
    if (!inNbCall()) {
      if (!this.#freeing) this.#freeing = this.native.free();
      return this.#freeing;
    }
    if (this.#freeing) return 0 as unknown as Promise<void>;
    const result = runOp(this.session, 'libssh2_channel_free', () => undefined, () => this.native.free(), undefined, true);
    if ((result as unknown) !== LIBSSH2_ERROR_EAGAIN) this.#freeing = Promise.resolve();
    return result;
  }

  /** `await using channel = await session.openSession()`: close, then free. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#freeing && !this.native.isFreed()) {
      try {
        await this.close();
      } catch {
        // freeing is what is left to do
      }
    }
    await this.free();
  }

  /**
   * This channel as a Node Duplex (stdout and stdin) with a `.stderr` Readable, with
   * backpressure both ways (`libssh2_channel_read_ex` on both streams, `libssh2_channel_write_ex`).
   * `end()` sends EOF (`libssh2_channel_send_eof`); `destroy()` closes and frees the channel.
   */
  stream(): ChannelStream {
    return this.#sync('stream', () => channelStream(this));
  }

  // ---- windows --------------------------------------------------------------------------

  /** `libssh2_channel_window_read_ex()`: receive window left, bytes readable now, initial window. */
  windowRead(): { window: number; readAvail: number; windowSizeInitial: number } {
    return this.#sync('libssh2_channel_window_read_ex', () => this.native.windowRead());
  }

  /** `libssh2_channel_window_write_ex()`: send window left and the initial window. */
  windowWrite(): { window: number; windowSizeInitial: number } {
    return this.#sync('libssh2_channel_window_write_ex', () => this.native.windowWrite());
  }

  /** `libssh2_channel_receive_window_adjust2()`: resolves to the new window size. */
  receiveWindowAdjust(adjustment: number, force = false): Promise<number> {
    return this.#run('libssh2_channel_receive_window_adjust2', false, () => {
      checkInt(adjustment, 'adjustment', 0, 0xffffffff);
      return this.native.receiveWindowAdjust(adjustment, force);
    });
  }

  /**
   * `libssh2_channel_handle_extended_data2()`: `LIBSSH2_CHANNEL_EXTENDED_DATA_NORMAL` or
   * `_MERGE`. Avoid `_IGNORE` on libssh2 1.11.1 (PITFALLS 17): read stderr and drop it instead.
   */
  handleExtendedData(ignoreMode: number): Promise<void> {
    return this.#run('libssh2_channel_handle_extended_data2', false, () => {
      checkInt(ignoreMode, 'ignoreMode', 0, 2);
      return this.native.handleExtendedData(ignoreMode);
    });
  }
}

/** The `…Nb()` twins of every async one-to-one method whose C function can return EAGAIN. */
export const CHANNEL_NB_METHODS = [
  'setenv',
  'requestPty',
  'requestPtySize',
  'processStartup',
  'exec',
  'shell',
  'subsystem',
  'x11Req',
  'requestAuthAgent',
  'signal',
  'read',
  'readStderr',
  'readInto',
  'write',
  'writeStderr',
  'flush',
  'sendEof',
  'waitEof',
  'close',
  'waitClosed',
  'free',
  'receiveWindowAdjust',
  'handleExtendedData',
] as const;
installNb(Channel, CHANNEL_NB_METHODS, (c) => c.session);
