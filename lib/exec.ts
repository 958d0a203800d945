/**
 * `session.exec()`, `session.spawn()` and `session.shell()`: commands on channels (Node-native
 * layer, on `libssh2_channel_open_session()`, `libssh2_channel_exec()`, `libssh2_channel_shell()`).
 */
import { EventEmitter } from 'events';
import { constants as osConstants } from 'os';
import type { Readable, Writable } from 'stream';
import type { Session } from './session';
import type { Channel } from './channel';
import type { ChannelStream } from './stream';
import { ChannelRequestDeniedError, createError } from './errors';
import { LIBSSH2_ERROR_TIMEOUT } from './constants';
import { checkInt, checkString } from './check';

/** A pseudo-terminal for the command. */
export interface PtyOptions {
  /** TERM (default 'xterm'). */
  term?: string;
  /** Width in characters (default 80). */
  cols?: number;
  /** Height in characters (default 24). */
  rows?: number;
  /** Encoded terminal modes (RFC 4254 section 8). */
  modes?: Buffer;
}

/** Options of `session.exec()`. */
export interface ExecOptions {
  /** Written to the command's stdin, then EOF. */
  input?: Buffer | string;
  /** Extra environment (the server accepts only names its AcceptEnv lists). */
  env?: Record<string, string>;
  /** Request a pty first (`true`: term 'xterm', 80x24). */
  pty?: boolean | PtyOptions;
  /**
   * Request agent forwarding first (`channel.requestAuthAgent()`); serve it with
   * `session.setAgentForwarding()`. Default: `session.forwardAgent` (then a refused request
   * is ignored: sshd grants forwarding once per connection, and later commands see it too).
   */
  agentForwarding?: boolean;
  /** Rejects (with the signal's reason), sends TERM and frees the channel when aborted. */
  signal?: AbortSignal;
  /** Rejects with `TimeoutError`, sends TERM and frees the channel after this many ms (0: none). */
  timeout?: number;
  /** Decode stdout and stderr to strings. */
  encoding?: BufferEncoding;
  /** Stops reading (and rejects) past this many bytes of stdout+stderr (default 64 MiB). */
  maxBuffer?: number;
}

/** What `session.exec()` resolves to. */
export interface ExecResult<T extends Buffer | string = Buffer> {
  /** Everything the command wrote to stdout. */
  stdout: T;
  /** Everything the command wrote to stderr. */
  stderr: T;
  /** The exit status, or null (the command died of a signal, or the server sent none). */
  code: number | null;
  /** The signal that ended the command ('TERM', ...), or null. */
  signal: string | null;
}

/** Options of `session.spawn()`. */
export interface SpawnOptions {
  env?: Record<string, string>;
  pty?: boolean | PtyOptions;
  /** As {@link ExecOptions.agentForwarding} (default: `session.forwardAgent`). */
  agentForwarding?: boolean;
  /** Aborting sends TERM and closes the channel; `error` is then the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `session.shell()`: the pty (always requested) and the environment. */
export interface ShellOptions extends PtyOptions {
  env?: Record<string, string>;
  /** As {@link ExecOptions.agentForwarding} (default: `session.forwardAgent`). */
  agentForwarding?: boolean;
  signal?: AbortSignal;
}

async function drain(ch: Channel, streamId: number, budget: { left: number }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (;;) {
    const b = await ch.read(65536, streamId);
    if (b.length === 0) return Buffer.concat(parts);
    budget.left -= b.length;
    if (budget.left < 0) throw new RangeError('maxBuffer exceeded');
    parts.push(b);
  }
}

function checkEnv(env: unknown): void {
  if (env === undefined) return;
  if (typeof env !== 'object' || env === null) throw new TypeError('env must be an object');
  for (const v of Object.values(env)) checkString(v, 'env value');
}

/** setenv, pty: the requests before exec/shell. */
async function prepare(ch: Channel, env: Record<string, string> | undefined, pty: boolean | PtyOptions | undefined): Promise<void> {
  for (const [k, v] of Object.entries(env ?? {})) await ch.setenv(k, v);
  if (pty) {
    const p = pty === true ? {} : pty;
    await ch.requestPty(p.term ?? 'xterm', p.modes, p.cols ?? 80, p.rows ?? 24);
  }
}

/**
 * Requests agent forwarding on `ch` if asked (`explicit`) or if the session forwards by default.
 * In the default case a refusal is ignored: OpenSSH grants it once per connection.
 */
async function requestAgent(session: Session, ch: Channel, explicit: boolean | undefined): Promise<void> {
  if (explicit !== undefined && typeof explicit !== 'boolean') throw new TypeError('agentForwarding must be a boolean');
  if (explicit === false || (explicit === undefined && !session.forwardAgent)) return;
  try {
    await ch.requestAuthAgent();
  } catch (e) {
    if (explicit || !(e instanceof ChannelRequestDeniedError)) throw e;
  }
}

function checkPty(pty: unknown): void {
  if (pty === undefined || typeof pty === 'boolean') return;
  if (typeof pty !== 'object' || pty === null) throw new TypeError('pty must be a boolean or { term, cols, rows, modes }');
  const p = pty as PtyOptions;
  if (p.term !== undefined) checkString(p.term, 'term');
  if (p.cols !== undefined) checkInt(p.cols, 'cols', 0);
  if (p.rows !== undefined) checkInt(p.rows, 'rows', 0);
  if (p.modes !== undefined && !Buffer.isBuffer(p.modes)) throw new TypeError('modes must be a Buffer');
}

function checkSignal(signal: unknown): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
}

export async function exec(session: Session, command: string, opts: ExecOptions = {}): Promise<ExecResult<Buffer | string>> {
  if (typeof command !== 'string') throw new TypeError('command must be a string');
  if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
  if (opts.input !== undefined && typeof opts.input !== 'string' && !(opts.input instanceof Uint8Array)) {
    throw new TypeError('input must be a Buffer or a string');
  }
  checkEnv(opts.env);
  checkPty(opts.pty);
  checkSignal(opts.signal);
  if (opts.timeout !== undefined) checkInt(opts.timeout, 'timeout', 0);
  if (opts.maxBuffer !== undefined) checkInt(opts.maxBuffer, 'maxBuffer', 0, Number.MAX_SAFE_INTEGER);
  if (opts.encoding !== undefined && !Buffer.isEncoding(opts.encoding)) throw new TypeError(`unknown encoding ${String(opts.encoding)}`);
  opts.signal?.throwIfAborted();
  const ch = await session.openSession();
  let stopped: unknown;
  const stop = (reason: unknown) => {
    if (stopped !== undefined) return;
    stopped = reason;
    // As child_process does on a timeout: TERM; then the channel goes (pending reads reject).
    void ch.signal('TERM').catch(() => undefined).finally(() => ch.free());
  };
  const onAbort = () => stop(opts.signal!.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = opts.timeout ? setTimeout(() => stop(createError(LIBSSH2_ERROR_TIMEOUT, 'exec', `${command}: not done within ${opts.timeout} ms`)), opts.timeout) : undefined;
  try {
    if (opts.signal?.aborted) onAbort();
    await prepare(ch, opts.env, opts.pty);
    await requestAgent(session, ch, opts.agentForwarding);
    await ch.exec(command);
    const budget = { left: opts.maxBuffer ?? 64 * 1024 * 1024 };
    const output = Promise.all([drain(ch, 0, budget), drain(ch, 1, budget)]);
    output.catch(() => undefined);
    if (opts.input !== undefined) await ch.write(opts.input);
    await ch.sendEof();
    const [stdout, stderr] = await output;
    await ch.close();
    const enc = opts.encoding;
    return {
      stdout: enc ? stdout.toString(enc) : stdout,
      stderr: enc ? stderr.toString(enc) : stderr,
      code: ch.getExitStatus(),
      signal: ch.getExitSignal().signal,
    };
  } catch (e) {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the abort reason or our TimeoutError
    if (stopped !== undefined) throw stopped;
    throw e;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    if (stopped === undefined) await ch.free(); // else freeing already (sshd may take a while)
  }
}

/** `'SIGTERM'`, `'TERM'` or 15 → `'TERM'` (SSH signal names carry no "SIG"). */
function signalName(sig: string | number): string {
  if (typeof sig === 'number') {
    const name = Object.entries(osConstants.signals).find(([, n]) => n === sig)?.[0];
    if (!name) throw new RangeError(`unknown signal ${sig}`);
    return name.slice(3);
  }
  if (typeof sig !== 'string' || !sig) throw new TypeError('signal must be a name or a number');
  return sig.startsWith('SIG') ? sig.slice(3) : sig;
}

/**
 * A remote command, shaped like Node's `ChildProcess` (without a pid): `stdin`, `stdout`,
 * `stderr` streams, `kill()`, and the events `'exit'` (code, signal) and `'close'` (code,
 * signal). Both come once stdout and stderr reached EOF (consume them, e.g. `resume()`) and the
 * exit status arrived; signal names carry no "SIG" ('TERM'). It never emits `'error'`: a lost
 * connection ends the streams, `'exit'` and `'close'` come with code and signal null, and
 * `error` holds the cause.
 */
export class RemoteProcess extends EventEmitter<{ exit: [code: number | null, signal: string | null]; close: [code: number | null, signal: string | null] }> {
  /** The command's stdin: `end()` sends EOF. (The same Duplex as `stdout`.) */
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** The channel the command runs on. */
  readonly channel: Channel;
  /** Always undefined: the remote process id is not known. */
  readonly pid: undefined = undefined;
  exitCode: number | null = null;
  signalCode: string | null = null;
  /** True once `kill()` sent a signal. */
  killed = false;
  /** Why the channel ended without an exit status (connection lost, aborted), if it did. */
  error: unknown;
  readonly #stream: ChannelStream;

  /** @internal */
  constructor(channel: Channel) {
    super();
    this.channel = channel;
    const stream = channel.stream();
    this.#stream = stream;
    this.stdin = stream;
    this.stdout = stream;
    this.stderr = stream.stderr;
    const fail = (e: unknown) => {
      this.error ??= e;
      if (!stream.destroyed) stream.destroy();
    };
    stream.on('error', fail);
    stream.stderr.on('error', fail);
    stream.on('exit', (code: number | null, signal: string | null) => {
      this.exitCode = code;
      this.signalCode = signal;
    });
    // The command is done once its output ended: close the channel (stdin too).
    let ends = 0;
    const ended = () => {
      if (++ends === 2) stream.destroy();
    };
    stream.once('end', ended);
    stream.stderr.once('end', ended);
    stream.once('close', () => {
      this.emit('exit', this.exitCode, this.signalCode);
      this.emit('close', this.exitCode, this.signalCode);
    });
  }

  /**
   * `libssh2_channel_signal_ex()`: sends `signal` (default 'TERM'; 'SIGKILL', 'KILL' or 9)
   * to the command. False when the channel is already closed. (OpenSSH delivers signals to
   * commands without a pty only from version 7.9 on.)
   */
  kill(signal: string | number = 'TERM'): boolean {
    const name = signalName(signal);
    if (this.#stream.destroyed || this.channel.closed) return false;
    this.killed = true;
    this.channel.signal(name).catch((e) => { this.error ??= e; });
    return true;
  }
}

/** Opens a channel, sends the setup requests and `start`s it; frees the channel on failure or abort. */
async function started(session: Session, opts: { env?: Record<string, string>; pty?: boolean | PtyOptions; signal?: AbortSignal; agentForwarding?: boolean },
  start: (ch: Channel) => Promise<void>): Promise<Channel> {
  opts.signal?.throwIfAborted();
  const ch = await session.openSession();
  const onAbort = () => { void ch.free(); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await prepare(ch, opts.env, opts.pty);
    await requestAgent(session, ch, opts.agentForwarding);
    await start(ch);
    opts.signal?.throwIfAborted();
    return ch;
  } catch (e) {
    await ch.free();
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

export async function spawn(session: Session, command: string, opts: SpawnOptions = {}): Promise<RemoteProcess> {
  if (typeof command !== 'string') throw new TypeError('command must be a string');
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
  checkEnv(opts.env);
  checkPty(opts.pty);
  checkSignal(opts.signal);
  const ch = await started(session, opts, (c) => c.exec(command));
  const proc = new RemoteProcess(ch);
  const signal = opts.signal;
  if (signal) {
    const onAbort = () => {
      proc.error ??= signal.reason;
      proc.kill('TERM');
      proc.stdout.destroy();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    proc.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  return proc;
}

export async function shell(session: Session, opts: ShellOptions = {}): Promise<ChannelStream> {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('options must be an object');
  checkEnv(opts.env);
  const pty: PtyOptions = { term: opts.term, cols: opts.cols, rows: opts.rows, modes: opts.modes };
  checkPty(pty);
  checkSignal(opts.signal);
  const ch = await started(session, { env: opts.env, pty, signal: opts.signal, agentForwarding: opts.agentForwarding }, (c) => c.shell());
  const stream = ch.stream();
  // The pty carries stderr too: the shell is done once its output ended.
  stream.stderr.resume();
  let ends = 0;
  const ended = () => {
    if (++ends === 2) stream.destroy();
  };
  stream.once('end', ended);
  stream.stderr.once('end', ended);
  if (opts.signal) {
    const signal = opts.signal;
    const onAbort = () => stream.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    stream.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  return stream;
}
