/** `session.exec()`: run a command, collect its output and exit status. */
import type { Session } from './session';
import type { Channel } from './channel';

export interface ExecOptions {
  /** Written to the command's stdin, then EOF. */
  input?: Buffer | string;
  /** Extra environment (the server accepts only names its AcceptEnv lists). */
  env?: Record<string, string>;
  /** Request a pty first (term 'xterm'). */
  pty?: boolean;
  /**
   * Request agent forwarding first (`channel.requestAuthAgent()`); serve it with
   * `session.setAgentForwarding()`.
   */
  agentForwarding?: boolean;
  /** Rejects and closes the channel when aborted. */
  signal?: AbortSignal;
  /** Stops reading (and rejects) past this many bytes of stdout+stderr (default 64 MiB). */
  maxBuffer?: number;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  /** The exit status, or null (the command died of a signal, or the server sent none). */
  code: number | null;
  /** The signal that ended the command ('TERM', ...), or null. */
  signal: string | null;
}

function checkExecOptions(opts: unknown): asserts opts is ExecOptions {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
  const o = opts as ExecOptions;
  if (o.input !== undefined && typeof o.input !== 'string' && !(o.input instanceof Uint8Array)) {
    throw new TypeError('input must be a Buffer or a string');
  }
  if (o.env !== undefined) {
    if (typeof o.env !== 'object' || o.env === null) throw new TypeError('env must be an object of strings');
    for (const v of Object.values(o.env)) if (typeof v !== 'string') throw new TypeError('env must be an object of strings');
  }
  if (o.maxBuffer !== undefined && (!Number.isSafeInteger(o.maxBuffer) || o.maxBuffer < 0)) {
    throw new RangeError('maxBuffer must be a non-negative integer');
  }
  if (o.signal !== undefined && (typeof o.signal !== 'object' || o.signal === null || typeof o.signal.aborted !== 'boolean' ||
    typeof o.signal.addEventListener !== 'function')) {
    throw new TypeError('signal must be an AbortSignal');
  }
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

export async function exec(session: Session, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  if (typeof command !== 'string') throw new TypeError('command must be a string');
  checkExecOptions(opts);
  opts.signal?.throwIfAborted();
  const ch = await session.openSession();
  const onAbort = () => { void ch.free(); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (const [k, v] of Object.entries(opts.env ?? {})) await ch.setenv(k, v);
    if (opts.pty) await ch.requestPty('xterm');
    if (opts.agentForwarding) await ch.requestAuthAgent();
    await ch.exec(command);
    const budget = { left: opts.maxBuffer ?? 64 * 1024 * 1024 };
    const output = Promise.all([drain(ch, 0, budget), drain(ch, 1, budget)]);
    output.catch(() => undefined);
    if (opts.input !== undefined) await ch.write(opts.input);
    await ch.sendEof();
    const [stdout, stderr] = await output;
    await ch.close();
    return { stdout, stderr, code: ch.getExitStatus(), signal: ch.getExitSignal().signal };
  } catch (e) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await ch.free();
  }
}
