/**
 * Bad input from JS, generated from a method table: every public method of Session, Channel,
 * Sftp, SftpHandle, Listener, KnownHosts, Agent and PublicKeySubsystem (and their …Nb() twins)
 * is called with wrong types, negative and huge numbers, NaN, in the wrong mode, on
 * closed/freed objects, with objects of another session, and re-entrantly from callbacks (trace
 * handler, keyboard-interactive responder, sign callback). Each call must throw or reject with
 * TypeError, RangeError or a Libssh2Error (BadUseError, ...) within a per-call time limit; the
 * process must never crash or hang. The table must name every method on the prototypes, so a new
 * method without an entry fails the test.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Agent, BadUseError, Channel, KnownHosts, Libssh2Error, Listener, PublicKeySubsystem, Session, Sftp, SftpHandle,
  LIBSSH2_FXF_READ, LIBSSH2_FXF_WRITE, LIBSSH2_FXF_CREAT, LIBSSH2_ERROR_EAGAIN,
} from '../lib';
import { fixture } from './fixtures';
import { startPublickeyServer, type PublickeyServer } from './fixtures/publickey-server';
import { tcp, authenticated } from './helpers/connect';
import { sshEd25519ToPkcs8 } from './helpers/keys';
import { startProxy } from './helpers/proxy';

const CALL_TIMEOUT_MS = 15000;

// ---- the method table ----------------------------------------------------------------------

/** A parameter kind; its bad values are generated from it. */
type Kind =
  | { t: 'str' } | { t: 'ostr' } | { t: 'dstr' } // required, optional (null ok), defaulted (undefined ok)
  | { t: 'int'; min: number; max: number; opt?: boolean }
  | { t: 'data'; opt?: boolean } // Buffer | Uint8Array | string
  | { t: 'buf' } // a non-empty Buffer
  | { t: 'fn'; opt?: boolean }
  | { t: 'attrs' }
  | { t: 'entry' } // a KnownHost
  | { t: 'identity' } // an AgentIdentity
  | { t: 'transport' }
  | { t: 'opts' } // fastGet/fastPut options (or undefined)
  | { t: 'execOpts' } // session.exec options (or undefined)
  | { t: 'spawnOpts' } // session.spawn options (or undefined)
  | { t: 'shellOpts' } // session.shell options (or undefined)
  | { t: 'mkdirMode' } // a mode, or { recursive, mode }
  | { t: 'bool' } // coerced with !!: no bad values
  | { t: 'any' }; // anything goes (fuzzed only)

const str = { t: 'str' } as const;
const ostr = { t: 'ostr' } as const;
const dstr = { t: 'dstr' } as const;
const int = (min: number, max: number, opt = false): Kind => ({ t: 'int', min, max, opt });
const I32 = [-0x80000000, 0x7fffffff] as const;
const i32 = int(...I32);
const port = int(0, 65535);
const data = { t: 'data' } as const;
const fn = { t: 'fn' } as const;
const bool = { t: 'bool' } as const;

/** Method → its parameters (with a valid value each). `null`: not callable with bad input here (reason). */
interface Entry { params: [Kind, unknown][]; nb?: boolean }
type Table = Record<string, Entry | { skip: string }>;

const SYMBOL_METHODS = new Set(['constructor']);

// ---- bad values ------------------------------------------------------------------------------

/** Values that must be refused for a kind (TypeError/RangeError/Libssh2Error). */
function mustFail(k: Kind): unknown[] {
  const wrongTypes = [42, {}, [], true, Symbol('s'), 10n, () => 1];
  switch (k.t) {
    case 'str': return [...wrongTypes, null, undefined, Buffer.from('x')];
    case 'ostr': return [42, {}, [], true, Symbol('s'), 10n];
    case 'dstr': return [...wrongTypes, null];
    case 'mkdirMode': return ['1', NaN, 1.5, -1, 0o10000, [], null, true, Symbol('m'), { mode: 'x' }, { mode: -1 }, { mode: 2 ** 40 }];
    case 'int': {
      const v: unknown[] = ['1', NaN, Infinity, -Infinity, 1.5, -0.5, {}, [], true, 10n, Symbol('n'), Number.MAX_VALUE,
        2 ** 64, -(2 ** 64), k.min - 1, k.max + 1];
      v.push(null);
      if (!k.opt) v.push(undefined);
      return v.filter((x) => typeof x !== 'number' || !Number.isSafeInteger(x) || x < k.min || x > k.max);
    }
    case 'data': return [42, {}, true, Symbol('d'), 10n, ...(k.opt ? [] : [null, undefined])];
    case 'buf': return ['x', 42, {}, null, undefined, Buffer.alloc(0), [1, 2]];
    case 'fn': return ['x', 42, {}, Symbol('f'), ...(k.opt ? [] : [null, undefined])];
    case 'attrs': return ['x', 42, Symbol('a'), { filesize: 'big' }, { permissions: -1 }, { atime: NaN }, { mtime: 2 ** 64 },
      { uid: 1.5 }, { gid: {} }];
    case 'entry': return [{}, 'x', 42, null, undefined, { name: 'x' }, { name: 1, key: 2, typemask: 'x' }];
    case 'identity': return [{}, 'x', 42, null, undefined, { blob: 'x' }, { blob: Buffer.alloc(3), comment: 1 }];
    case 'transport': return ['x', {}, [], -1, 1.5, NaN, 2 ** 40, true, null, undefined, Symbol('t')];
    case 'opts': return ['x', 42, Symbol('o'), { chunkSize: -1 }, { concurrency: 0 }, { chunkSize: NaN }, { concurrency: 2 ** 40 },
      { onProgress: 'x' }, { signal: 'x' }, { mode: -1 }, { mode: 1.5 }];
    case 'execOpts': return ['x', 42, Symbol('o'), { input: 42 }, { env: 'x' }, { env: { A: 1 } }, { maxBuffer: -1 },
      { maxBuffer: NaN }, { signal: {} }];
    case 'spawnOpts': return ['x', 42, Symbol('o'), { env: 'x' }, { env: { A: 1 } }, { pty: 'x' }, { signal: {} }];
    case 'shellOpts': return ['x', 42, Symbol('o'), { env: 'x' }, { env: { A: 1 } }, { cols: -1 }, { term: 5 }, { signal: {} }];
    default: return [];
  }
}

/** Values that may be accepted or refused, but must not crash or hang. */
function fuzz(k: Kind): unknown[] {
  switch (k.t) {
    case 'int': return [k.min, k.max, 0, -1, 0x7fffffff, -0x80000000].filter((x) => x >= k.min && x <= k.max);
    case 'str': case 'ostr': return ['', '\0', 'x'.repeat(70000), '\u{1F600}\uD800'];
    case 'data': return [Buffer.alloc(0), new Uint8Array(3), 'x'.repeat(1000)];
    case 'any': return [undefined, null, -1, 'x', {}];
    default: return [];
  }
}

// ---- outcome checking ---------------------------------------------------------------------------

type Outcome = { kind: 'ok'; value: unknown } | { kind: 'error'; error: unknown } | { kind: 'timeout' };

let calls = 0;

/** Calls `f` once: sync throw, sync value, or a Promise raced against the per-call time limit. */
async function attempt(f: () => unknown, what?: string): Promise<Outcome> {
  calls++;
  if (process.env.BAD_INPUT_TRACE) fs.writeSync(2, `${what ?? new Error().stack?.split('\n')[2]}\n`);
  let r: unknown;
  try {
    r = f();
  } catch (error) {
    return { kind: 'error', error };
  }
  // Promises made by the addon come from the main realm, not jest's: test for a thenable.
  if (!isThenable(r)) return release({ kind: 'ok', value: r });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((res) => { timer = setTimeout(() => res({ kind: 'timeout' }), CALL_TIMEOUT_MS); });
  try {
    return release(await Promise.race([Promise.resolve(r).then((value): Outcome => ({ kind: 'ok', value }), (error): Outcome => ({ kind: 'error', error })), timeout]));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What an accepted call made that would keep the process alive is let go at once: a listening
 * server (forwardLocal), a remote forward, a stream or remote process (stream(), shell(), spawn()).
 */
function release(o: Outcome): Outcome {
  if (o.kind !== 'ok' || !o.value || typeof o.value !== 'object') return o;
  const v = o.value as { address?: unknown; close?: () => unknown; boundPort?: unknown; destroy?: () => unknown; kill?: () => unknown; pipe?: unknown };
  try {
    if (typeof v.address === 'function' && typeof v.close === 'function') v.close(); // net.Server
    else if (typeof v.boundPort === 'number' && typeof v.close === 'function' && typeof v.pipe !== 'function') void Promise.resolve(v.close()).catch(() => undefined);
    else if (typeof v.kill === 'function') v.kill();
    if (typeof v.destroy === 'function' && typeof v.pipe === 'function') v.destroy();
  } catch {
    // best effort: the session closes at the end of the test anyway
  }
  return o;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return !!v && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<unknown>).then === 'function';
}

/** TypeError/RangeError of any realm (the addon's come from the main realm), or a Libssh2Error. */
function typed(e: unknown): boolean {
  if (e instanceof Libssh2Error) return true;
  if (!e || typeof e !== 'object') return false;
  // Node's own errors of local I/O (a local file or address of a transfer or forward): code + syscall.
  if (typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string') return true;
  const name = (e as Error).constructor?.name;
  return (name === 'TypeError' || name === 'RangeError') && Object.prototype.toString.call(e) === '[object Error]';
}

function describeValue(v: unknown): string {
  if (typeof v === 'symbol' || typeof v === 'bigint') return String(v) + (typeof v === 'bigint' ? 'n' : '');
  if (typeof v === 'function') return 'function';
  if (Buffer.isBuffer(v)) return `Buffer(${v.length})`;
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Problems found, as readable lines (the test fails listing them all). */
const problems: string[] = [];

function expectRefused(label: string, o: Outcome, allow?: (e: unknown) => boolean): void {
  if (o.kind === 'timeout') problems.push(`${label}: no answer within ${CALL_TIMEOUT_MS} ms`);
  else if (o.kind === 'ok') problems.push(`${label}: accepted (returned ${describeValue(o.value)})`);
  else if (!typed(o.error) || (allow && !allow(o.error))) problems.push(`${label}: ${String((o.error as Error)?.name)}: ${String((o.error as Error)?.message)}`);
}

function expectNoCrash(label: string, o: Outcome): void {
  if (o.kind === 'timeout') problems.push(`${label}: no answer within ${CALL_TIMEOUT_MS} ms`);
  else if (o.kind === 'error' && !typed(o.error)) problems.push(`${label}: untyped ${String((o.error as Error)?.name)}: ${String((o.error as Error)?.message)}`);
}

/** Every own method name of a class prototype (not getters, not Symbol-keyed). */
function methodsOf(cls: { prototype: object }): string[] {
  const proto = cls.prototype as Record<string, unknown>;
  return Object.getOwnPropertyNames(proto).filter((n) => {
    if (SYMBOL_METHODS.has(n)) return false;
    const d = Object.getOwnPropertyDescriptor(proto, n)!;
    return typeof d.value === 'function';
  });
}

function tableEntry(table: Table, name: string): Entry | undefined {
  const e = table[name.endsWith('Nb') && !(name in table) ? name.slice(0, -2) : name];
  return e && 'params' in e ? e : undefined;
}

/**
 * Calls every method of `obj` (as listed by `table`) with each bad value in each position, the
 * others valid. Nb twins (`nb`) are called in non-blocking mode.
 */
async function badArguments(label: string, obj: object, table: Table, names: string[]): Promise<void> {
  for (const name of names) {
    const e = tableEntry(table, name);
    if (!e) continue;
    const method = (obj as Record<string, (...a: unknown[]) => unknown>)[name];
    for (let i = 0; i < e.params.length; i++) {
      const [kind] = e.params[i];
      const args = () => e.params.map(([, v]) => v);
      for (const bad of mustFail(kind)) {
        const a = args();
        a[i] = bad;
        const o = await attempt(() => method.apply(obj, a));
        expectRefused(`${label}.${name}(arg ${i} = ${describeValue(bad)})`, o);
        if (o.kind === 'ok' && o.value === LIBSSH2_ERROR_EAGAIN) {
          problems.push(`${label}.${name}: an Nb call with bad input started an op`);
        }
      }
    }
  }
}

// ---- the table ------------------------------------------------------------------------------

interface World {
  session: Session;
  channel: Channel;
  sftp: Sftp;
  file: SftpHandle;
  listener: Listener;
  kh: KnownHosts;
  agent: Agent;
  dir: string;
}

function sessionTable(): Table {
  return {
    handshake: { params: [[{ t: 'transport' }, undefined]] },
    disconnect: { params: [[ostr, ''], [int(...I32, true), 11]] },
    free: { skip: 'no arguments (freed-object tests call it)' },
    close: { skip: 'no arguments' },
    setBlocking: { params: [[bool, true]] },
    getBlocking: { params: [] },
    hostkey: { params: [] },
    hostkeyHash: { params: [[i32, 3]] },
    methods: { params: [[i32, 0]] },
    methodPref: { params: [[i32, 0], [str, 'curve25519-sha256']] },
    supportedAlgs: { params: [[i32, 0]] },
    bannerGet: { params: [] },
    bannerSet: { params: [[str, 'SSH-2.0-test']] },
    setTimeout: { params: [[int(0, 0x7fffffff), 0]] },
    getTimeout: { params: [] },
    keepaliveConfig: { params: [[bool, false], [int(0, 0x7fffffff), 0]] },
    lastError: { params: [] },
    lastErrno: { params: [] },
    setLastError: { params: [[i32, 0], [ostr, undefined]] },
    blockDirections: { params: [] },
    waitSocket: { params: [[int(0, 0x7fffffff, true), 1]] },
    flag: { params: [[i32, 1], [i32, 1]] },
    trace: { params: [[i32, 0], [{ t: 'fn', opt: true }, undefined]] },
    ref: { params: [] },
    unref: { params: [] },
    userauthAuthenticated: { params: [] },
    userauthBanner: { params: [] },
    keepaliveSend: { params: [] },
    userauthList: { params: [[str, 'nobody']] },
    userauthPassword: { params: [[str, 'nobody'], [str, 'x'], [{ t: 'fn', opt: true }, undefined]] },
    userauthPublickeyFromfile: { params: [[str, 'nobody'], [str, '/nonexistent'], [ostr, undefined], [ostr, undefined]] },
    userauthPublickeyFrommemory: { params: [[str, 'nobody'], [data, 'x'], [ostr, undefined], [{ t: 'data', opt: true }, undefined]] },
    userauthPublickey: { params: [[str, 'nobody'], [{ t: 'buf' }, Buffer.from('x')], [fn, () => Buffer.alloc(0)]] },
    userauthKeyboardInteractive: { params: [[str, 'nobody'], [fn, () => []]] },
    userauthHostbasedFromfile: { params: [[str, 'nobody'], [str, '/nonexistent'], [str, 'h'], [ostr, undefined], [ostr, undefined], [ostr, undefined]] },
    openSession: { params: [[int(1, 0x7fffffff, true), undefined], [int(1, 0x7fffffff, true), undefined]] },
    directTcpip: { params: [[str, '127.0.0.1'], [port, 1], [dstr, '127.0.0.1'], [int(0, 65535, true), 22]] },
    directStreamlocal: { params: [[str, '/nonexistent'], [dstr, '127.0.0.1'], [int(0, 65535, true), 22]] },
    forwardListen: { params: [[port, 0], [ostr, undefined], [int(1, 0x7fffffff, true), 16]] },
    forwardLocal: { params: [[port, 0], [str, '127.0.0.1'], [port, 1], [ostr, undefined]] },
    forwardRemote: { params: [[port, 0], [str, '127.0.0.1'], [port, 1]] },
    exec: { params: [[str, 'true'], [{ t: 'execOpts' }, undefined]] },
    spawn: { params: [[str, 'true'], [{ t: 'spawnOpts' }, undefined]] },
    shell: { params: [[{ t: 'shellOpts' }, undefined]] },
    knownhostInit: { params: [] },
    agentInit: { params: [] },
    userauthAgent: { params: [[str, 'nobody'], [ostr, '/nonexistent']] },
    publickeyInit: { params: [] },
    setAgentForwarding: { params: [[ostr, '/nonexistent']] },
    setX11Handler: { params: [[{ t: 'fn', opt: true }, null]] },
    sftpInit: { params: [] },
    scpRecv2: { params: [[str, '/nonexistent']] },
    scpSend64: { params: [[str, '/nonexistent/x'], [int(0, 0o7777), 0o644], [int(0, Number.MAX_SAFE_INTEGER), 0],
      [int(0, Number.MAX_SAFE_INTEGER, true), undefined], [int(0, Number.MAX_SAFE_INTEGER, true), undefined]] },
  };
}

function channelTable(): Table {
  const u31 = int(0, 0x7fffffff);
  return {
    setenv: { params: [[str, 'X'], [str, 'y']] },
    requestPty: { params: [[dstr, 'vanilla'], [{ t: 'data', opt: true }, undefined], [int(0, 0x7fffffff, true), undefined], [int(0, 0x7fffffff, true), undefined]] },
    requestPtySize: { params: [[u31, 80], [u31, 24], [int(0, 0x7fffffff, true), undefined], [int(0, 0x7fffffff, true), undefined]] },
    processStartup: { params: [[str, 'exec'], [{ t: 'data', opt: true }, undefined]] },
    exec: { params: [[str, 'true']] },
    shell: { params: [] },
    subsystem: { params: [[str, 'nonexistent']] },
    x11Req: { params: [[u31, 0], [bool, false], [ostr, undefined], [ostr, undefined]] },
    requestAuthAgent: { params: [] },
    signal: { params: [[str, 'TERM']] },
    read: { params: [[int(1, 0x7fffffff, true), 1], [int(0, 0x7fffffff, true), 0]] },
    readStderr: { params: [[int(1, 0x7fffffff, true), 1]] },
    readInto: { params: [[{ t: 'buf' }, Buffer.alloc(1)], [int(0, 0x7fffffff, true), 0]] },
    write: { params: [[data, ''], [int(0, 0x7fffffff, true), 0]] },
    writeStderr: { params: [[data, '']] },
    flush: { params: [[int(-2, 0x7fffffff, true), 0]] },
    sendEof: { skip: 'no arguments' },
    eof: { params: [] },
    waitEof: { skip: 'no arguments; waits for the peer' },
    close: { skip: 'no arguments' },
    waitClosed: { skip: 'no arguments; waits for the peer' },
    getExitStatus: { params: [] },
    getExitSignal: { params: [] },
    free: { skip: 'no arguments' },
    stream: { skip: 'no arguments' },
    windowRead: { params: [] },
    windowWrite: { params: [] },
    receiveWindowAdjust: { params: [[int(0, 0xffffffff), 0], [bool, false]] },
    handleExtendedData: { params: [[int(0, 2), 0]] },
  };
}

function sftpTable(dir: string): Table {
  const p = path.join(dir, 'nonexistent');
  const opts = { t: 'opts' } as const;
  return {
    open: { params: [[str, p], [int(0, 0xffffffff), LIBSSH2_FXF_READ], [int(0, 0o7777, true), 0o644]] },
    opendir: { params: [[str, p]] },
    stat: { params: [[str, p]] },
    lstat: { params: [[str, p]] },
    setstat: { params: [[str, p], [{ t: 'attrs' }, {}]] },
    statvfs: { params: [[str, p]] },
    mkdir: { params: [[str, path.join(p, 'a')], [{ t: 'mkdirMode' }, 0o755]] },
    rmdir: { params: [[str, p]] },
    unlink: { params: [[str, p]] },
    rename: { params: [[str, p], [str, p + '2'], [int(0, 7, true), 0]] },
    posixRename: { params: [[str, p], [str, p + '2']] },
    symlink: { params: [[str, p], [str, path.join(p, 'l')]] },
    readlink: { params: [[str, p]] },
    realpath: { params: [[str, p]] },
    lastError: { params: [] },
    fastGet: { params: [[str, p], [str, path.join(p, 'local')], [opts, undefined]] },
    fastPut: { params: [[str, p], [str, path.join(p, 'remote')], [opts, undefined]] },
    getDirectory: { params: [[str, p], [str, path.join(p, 'local')], [opts, undefined]] },
    putDirectory: { params: [[str, p], [str, path.join(p, 'remote')], [opts, undefined]] },
    createReadStream: { skip: 'a stream reports errors as events (checked in transfer tests)' },
    createWriteStream: { skip: 'a stream reports errors as events (checked in transfer tests)' },
    readFile: { params: [[str, p]] },
    writeFile: { params: [[str, path.join(p, 'w')], [data, 'x'], [int(0, 0o7777, true), undefined]] },
    exists: { params: [[str, p]] },
    list: { params: [[str, p]] },
    shutdown: { skip: 'no arguments' },
  };
}

function handleTable(): Table {
  return {
    read: { params: [[int(1, 0x7fffffff, true), 1]] },
    readInto: { params: [[{ t: 'buf' }, Buffer.alloc(1)]] },
    write: { params: [[data, '']] },
    readdir: { params: [] },
    fstat: { params: [] },
    fsetstat: { params: [[{ t: 'attrs' }, {}]] },
    fstatvfs: { params: [] },
    fsync: { params: [] },
    seek64: { params: [[int(0, Number.MAX_SAFE_INTEGER), 0]] },
    tell64: { params: [] },
    rewind: { params: [] },
    close: { skip: 'no arguments' },
  };
}

function listenerTable(): Table {
  return { forwardAccept: { skip: 'no arguments; waits for a connection' }, forwardCancel: { skip: 'no arguments' } };
}

function knownhostsTable(): Table {
  return {
    readfile: { params: [[str, '/nonexistent']] },
    writefile: { params: [[str, '/nonexistent/x']] },
    readline: { params: [[str, 'garbage']] },
    writeline: { params: [[{ t: 'entry' }, undefined]] },
    checkp: { params: [[str, 'h'], [int(-1, 65535), 22], [data, 'k'], [int(0, 0x7fffffff), 1]] },
    addc: { params: [[str, 'h'], [data, 'k'], [int(0, 0x7fffffff), 1], [ostr, undefined], [ostr, undefined]] },
    get: { params: [] },
    del: { params: [[{ t: 'entry' }, undefined]] },
    free: { skip: 'no arguments' },
  };
}

function agentTable(): Table {
  return {
    connect: { skip: 'no arguments' },
    disconnect: { skip: 'no arguments' },
    listIdentities: { skip: 'no arguments' },
    getIdentities: { params: [] },
    userauth: { params: [[str, 'nobody'], [{ t: 'identity' }, undefined]] },
    sign: { params: [[{ t: 'identity' }, undefined], [data, 'x'], [ostr, undefined]] },
    getIdentityPath: { params: [] },
    setIdentityPath: { params: [[ostr, null]] },
    free: { skip: 'no arguments' },
  };
}

function publickeyTable(): Table {
  return {
    list: { params: [] },
    add: { params: [[str, 'ssh-ed25519'], [data, Buffer.from('x')], [bool, false], [{ t: 'any' }, []]] },
    remove: { params: [[str, 'ssh-ed25519'], [data, Buffer.from('x')]] },
    shutdown: { skip: 'no arguments' },
  };
}

/** Some extra bad values for arguments not in a simple kind. */
const PUBLICKEY_ATTRS_BAD: unknown[] = ['x', 42, [null], [{ name: 1, value: 'v' }], [{ name: 'n', value: {} }], [42]];

// ---- the tests --------------------------------------------------------------------------------

describe('bad input from JS (generated from the method table)', () => {
  const f = fixture();
  let pkServer: PublickeyServer;
  let world: World;
  let nbWorld: World & { pk?: PublicKeySubsystem };
  let pk: PublicKeySubsystem;
  let pkSession: Session;

  async function makeWorld(): Promise<World> {
    const session = await authenticated();
    session.setTimeout(CALL_TIMEOUT_MS);
    const channel = await session.openSession();
    await channel.exec('cat');
    const sftp = await session.sftpInit();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-badinput-'));
    fs.chmodSync(dir, 0o777);
    const file = await sftp.open(path.join(dir, 'f'), LIBSSH2_FXF_READ | LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT, 0o666);
    const listener = await session.forwardListen(0, '127.0.0.1');
    return { session, channel, sftp, file, listener, kh: session.knownhostInit(), agent: session.agentInit(), dir };
  }

  async function pkSessionOpen(): Promise<Session> {
    const s = new Session();
    s.setTimeout(CALL_TIMEOUT_MS);
    await s.handshake(await tcp(pkServer.host, pkServer.port));
    await s.userauthPassword('tester', 'any');
    return s;
  }

  beforeAll(async () => {
    pkServer = await startPublickeyServer();
    world = await makeWorld();
    nbWorld = await makeWorld();
    pkSession = await pkSessionOpen();
    pk = await pkSession.publickeyInit();
  });

  afterAll(async () => {
    for (const w of [world, nbWorld]) {
      if (!w) continue;
      await w.session.close().catch(() => undefined);
      fs.rmSync(w.dir, { recursive: true, force: true });
    }
    await pkSession?.close().catch(() => undefined);
    await pkServer?.close();
  });

  const classes: [string, { prototype: object }, (dir: string) => Table][] = [
    ['Session', Session, sessionTable],
    ['Channel', Channel, channelTable],
    ['Sftp', Sftp, sftpTable],
    ['SftpHandle', SftpHandle, handleTable],
    ['Listener', Listener, listenerTable],
    ['KnownHosts', KnownHosts, knownhostsTable],
    ['Agent', Agent, agentTable],
    ['PublicKeySubsystem', PublicKeySubsystem, publickeyTable],
  ];

  it('the table names every public method (and the Nb twins of table entries exist)', () => {
    const missing: string[] = [];
    for (const [name, cls, table] of classes) {
      const t = table('/tmp');
      for (const m of methodsOf(cls)) {
        const base = m.endsWith('Nb') && !(m in t) ? m.slice(0, -2) : m;
        if (!(base in t)) missing.push(`${name}.${m}`);
      }
    }
    expect(missing).toEqual([]);
  });

  function objectsOf(w: World, p: PublicKeySubsystem): [string, object, Table][] {
    return [
      ['session', w.session, sessionTable()],
      ['channel', w.channel, channelTable()],
      ['sftp', w.sftp, sftpTable(w.dir)],
      ['file', w.file, handleTable()],
      ['listener', w.listener, listenerTable()],
      ['kh', w.kh, knownhostsTable()],
      ['agent', w.agent, agentTable()],
      ['pk', p, publickeyTable()],
    ];
  }

  it('wrong types, NaN, negative and huge numbers: TypeError/RangeError, async methods', async () => {
    calls = 0;
    problems.length = 0;
    for (const [label, obj, table] of objectsOf(world, pk)) {
      const names = methodsOf(Object.getPrototypeOf(obj).constructor).filter((m) => !m.endsWith('Nb') || m in table);
      await badArguments(label, obj, table, names);
    }
    // Bad publickey attribute lists.
    for (const bad of PUBLICKEY_ATTRS_BAD) {
      expectRefused(`pk.add(attrs = ${describeValue(bad)})`, await attempt(() => pk.add('ssh-ed25519', Buffer.from('x'), false, bad as [])));
    }
    // The session and the objects still work.
    expect(problems).toEqual([]);
    const w = await world.channel.write('still alive');
    expect(w).toBe(11);
    expect((await world.channel.read(100)).toString()).toBe('still alive');
    expect((await world.sftp.stat(world.dir)).isDirectory()).toBe(true);
    console.log(`bad-input: ${calls} calls with bad arguments (async methods)`);
    expect(calls).toBeGreaterThan(500);
  });

  it('the same bad arguments to the …Nb() twins in non-blocking mode throw synchronously', async () => {
    calls = 0;
    problems.length = 0;
    let leftover: boolean;
    const p = await (async () => {
      const s = await pkSessionOpen();
      nbWorld.pk = await s.publickeyInit();
      s.setBlocking(false);
      return { s, pk: nbWorld.pk };
    })();
    nbWorld.session.setBlocking(false);
    try {
      for (const [label, obj, table] of objectsOf(nbWorld, p.pk)) {
        const names = methodsOf(Object.getPrototypeOf(obj).constructor).filter((m) => m.endsWith('Nb'));
        await badArguments(`${label}[nb]`, obj, table, names);
        // Async methods in non-blocking mode: BadUseError (teardown excepted, never called here).
        for (const m of names) {
          const base = m.slice(0, -2);
          const e = tableEntry(table, base);
          if (!e || TEARDOWN.has(base)) continue;
          const o = await attempt(() => (obj as Record<string, (...a: unknown[]) => unknown>)[base](...e.params.map(([, v]) => v)));
          expectRefused(`${label}.${base}() in non-blocking mode`, o, (err) => err instanceof BadUseError);
        }
      }
    } finally {
      leftover = nbWorld.session.native.state().busy;
      await p.s.free();
      if (leftover) await nbWorld.session.free();
      else nbWorld.session.setBlocking(true);
    }
    expect(problems).toEqual([]);
    expect(leftover).toBe(false); // no Nb call with bad input left an op pending
    // Nb twins in async mode: BadUseError, thrown synchronously.
    for (const [label, obj, table] of objectsOf(world, pk)) {
      for (const m of methodsOf(Object.getPrototypeOf(obj).constructor).filter((n) => n.endsWith('Nb'))) {
        const e = tableEntry(table, m.slice(0, -2));
        const args = e ? e.params.map(([, v]) => v) : [];
        let thrown: unknown;
        let r: unknown;
        calls++;
        try {
          r = (obj as Record<string, (...a: unknown[]) => unknown>)[m](...args);
        } catch (err) {
          thrown = err;
        }
        if (!(thrown instanceof BadUseError)) problems.push(`${label}.${m}() in async mode: ${thrown ? describeValue(thrown) : `returned ${describeValue(r)}`}`);
      }
    }
    expect(problems).toEqual([]);
    expect(await nbWorld.channel.write('nb alive')).toBe(8);
    console.log(`bad-input: ${calls} calls to …Nb() twins`);
    expect(calls).toBeGreaterThan(300);
  });

  it('fuzzed in-range values (0, -1, extremes, huge strings) never crash or hang', async () => {
    calls = 0;
    problems.length = 0;
    const w = await makeWorld();
    const p = await (await pkSessionOpen()).publickeyInit();
    try {
      for (const [label, obj, table] of objectsOf(w, p)) {
        for (const name of methodsOf(Object.getPrototypeOf(obj).constructor).filter((m) => !m.endsWith('Nb'))) {
          const e = tableEntry(table, name);
          if (!e) continue;
          if (label === 'session' && ['setBlocking', 'trace', 'setTimeout', 'waitSocket'].includes(name)) continue; // mode/timing: elsewhere
          for (let i = 0; i < e.params.length; i++) {
            for (const v of fuzz(e.params[i][0])) {
              const a = e.params.map(([, x]) => x);
              a[i] = v;
              const o = await attempt(() => (obj as Record<string, (...x: unknown[]) => unknown>)[name](...a));
              expectNoCrash(`${label}.${name}(arg ${i} = ${describeValue(v)})`, o);
            }
          }
        }
      }
    } finally {
      await w.session.close().catch(() => undefined);
      await p.session.close().catch(() => undefined);
      fs.rmSync(w.dir, { recursive: true, force: true });
    }
    expect(problems).toEqual([]);
    console.log(`bad-input: ${calls} fuzzed calls`);
  });

  function isStream(v: unknown): v is NodeJS.EventEmitter & { destroy(): void } {
    return !!v && typeof (v as { on?: unknown }).on === 'function' && typeof (v as { destroy?: unknown }).destroy === 'function' &&
      typeof (v as { pipe?: unknown }).pipe === 'function';
  }

  /** A stream reports failure as its 'error' event: wait for it (bounded). */
  function streamOutcome(stream: NodeJS.EventEmitter & { destroy(): void }): Promise<Outcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { stream.destroy(); resolve({ kind: 'ok', value: 'a stream without an error' }); }, 3000);
      stream.once('error', (error) => { clearTimeout(timer); resolve({ kind: 'error', error }); });
    });
  }

  /** Calls every table method of every object with valid arguments; each must be refused. */
  async function allRefused(objs: [string, object, Table][], allowed: (label: string, name: string, o: Outcome) => boolean,
    errorClass: (e: unknown) => boolean): Promise<void> {
    for (const [label, obj, table] of objs) {
      for (const name of methodsOf(Object.getPrototypeOf(obj).constructor).filter((m) => !m.endsWith('Nb'))) {
        const e = table[name];
        const args = e && 'params' in e ? e.params.map(([, v]) => v) : [];
        let o = await attempt(() => (obj as Record<string, (...a: unknown[]) => unknown>)[name](...args), `${label}.${name}`);
        if (o.kind === 'ok' && isStream(o.value)) o = await streamOutcome(o.value);
        if (allowed(label, name, o)) continue;
        expectRefused(`${label}.${name}() on a freed object`, o, errorClass);
      }
    }
  }

  /** Teardown works in both modes. */
  const TEARDOWN = new Set(['free', 'close', 'disconnect', 'shutdown', 'forwardCancel']);

  /** Teardown is idempotent, and these only read state the binding keeps itself. */
  const IDEMPOTENT = new Set(['free', 'close', 'disconnect', 'shutdown', 'getBlocking', 'ref', 'unref', 'setBlocking', 'forwardCancel']);

  it('freed objects: every method throws or rejects BadUseError; teardown is idempotent', async () => {
    calls = 0;
    problems.length = 0;
    const w = await makeWorld();
    const ps = await pkSessionOpen();
    const p = await ps.publickeyInit();
    await w.file.close();
    await w.sftp.shutdown();
    await w.channel.close();
    await w.channel.free();
    await w.listener.forwardCancel();
    w.kh.free();
    w.agent.free();
    await p.shutdown();
    await w.session.free();
    await ps.free();
    const objs = objectsOf(w, p);
    await allRefused(objs, (_l, name, o) => IDEMPOTENT.has(name) && o.kind === 'ok', (e) => e instanceof BadUseError);
    // Nb twins of freed objects (in non-blocking mode the session cannot be put any more: async mode → BadUseError too).
    for (const [label, obj, table] of objs) {
      for (const m of methodsOf(Object.getPrototypeOf(obj).constructor).filter((n) => n.endsWith('Nb'))) {
        const e = tableEntry(table, m.slice(0, -2));
        const o = await attempt(() => (obj as Record<string, (...a: unknown[]) => unknown>)[m](...(e ? e.params.map(([, v]) => v) : [])), `${label}.${m}`);
        if (o.kind === 'ok' && ['freeNb', 'closeNb', 'disconnectNb', 'shutdownNb', 'forwardCancelNb'].includes(m)) continue;
        expectRefused(`${label}.${m}() on a freed object`, o, (err) => err instanceof BadUseError);
      }
    }
    fs.rmSync(w.dir, { recursive: true, force: true });
    expect(problems).toEqual([]);
    console.log(`bad-input: ${calls} calls on freed objects`);
  });

  it('children of a freed session (not freed themselves): BadUseError, no crash', async () => {
    calls = 0;
    problems.length = 0;
    const w = await makeWorld();
    const ps = await pkSessionOpen();
    const p = await ps.publickeyInit();
    await w.session.free();
    await ps.free();
    await allRefused(objectsOf(w, p).filter(([l]) => l !== 'session'), (_l, name, o) => IDEMPOTENT.has(name) && o.kind === 'ok',
      (e) => e instanceof BadUseError);
    fs.rmSync(w.dir, { recursive: true, force: true });
    expect(problems).toEqual([]);
  });

  it('a session whose connection was cut: every op fails typed (ConnectionError or BadUseError), none hangs', async () => {
    calls = 0;
    problems.length = 0;
    const proxy = await startProxy();
    const s = new Session();
    s.setTimeout(CALL_TIMEOUT_MS);
    await s.handshake(await tcp('127.0.0.1', proxy.port));
    await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
    const channel = await s.openSession();
    await channel.exec('cat');
    const sftp = await s.sftpInit();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-badinput-'));
    fs.chmodSync(dir, 0o777);
    const file = await sftp.open(path.join(dir, 'f'), LIBSSH2_FXF_READ | LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT, 0o666);
    const listener = await s.forwardListen(0, '127.0.0.1');
    const w: World = { session: s, channel, sftp, file, listener, kh: s.knownhostInit(), agent: s.agentInit(), dir };
    proxy.cut();
    await proxy.close();
    const first = await attempt(() => channel.read(10));
    expect(first.kind).toBe('error');
    expect(s.closed).toBe(true);
    const objs = objectsOf(w, pk).filter(([l]) => l !== 'pk');
    // Sync getters and idempotent teardown may answer; everything async must reject typed.
    for (const [label, obj, table] of objs) {
      for (const name of methodsOf(Object.getPrototypeOf(obj).constructor).filter((m) => !m.endsWith('Nb'))) {
        const e = table[name];
        const args = e && 'params' in e ? e.params.map(([, v]) => v) : [];
        if (label === 'session' && name === 'setBlocking') continue;
        let o = await attempt(() => (obj as Record<string, (...a: unknown[]) => unknown>)[name](...args));
        if (o.kind === 'ok' && isStream(o.value)) o = await streamOutcome(o.value);
        expectNoCrash(`${label}.${name}() on a cut session`, o);
      }
    }
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
    expect(problems).toEqual([]);
  });

  it('objects of another session or collection are refused', async () => {
    problems.length = 0;
    const other = await authenticated();
    try {
      const khA = world.session.knownhostInit();
      const khB = other.knownhostInit();
      const entryB = khB.addc('host.example', Buffer.from('AAAA', 'base64'), 1 | (1 << 16) | (2 << 18));
      expectRefused('kh.del(entry of another collection)', await attempt(() => khA.del(entryB)));
      expectRefused('kh.writeline(entry of another collection)', await attempt(() => khA.writeline(entryB)));
      const entryA = khA.addc('host.example', Buffer.from('AAAA', 'base64'), 1 | (1 << 16) | (2 << 18));
      khA.del(entryA);
      expectRefused('kh.del(deleted entry)', await attempt(() => khA.del(entryA)), (e) => e instanceof BadUseError);
      expectRefused('kh.writeline(deleted entry)', await attempt(() => khA.writeline(entryA)));
      expectRefused('forged entry', await attempt(() => khA.del({ ...entryB })));
      khB.free();
      expectRefused('kh.del(entry of a freed collection)', await attempt(() => khA.del(entryB)));
      khA.free();
      // An agent identity of another agent (forged: no agent here) is refused.
      const ag = world.session.agentInit();
      expectRefused('agent.userauth(forged identity)', await attempt(() => ag.userauth('x', { blob: Buffer.from('x'), comment: '', type: 'x' })));
      expectRefused('agent.sign(forged identity)', await attempt(() => ag.sign({ blob: Buffer.from('x'), comment: '' } as never, 'data')));
      ag.free();
    } finally {
      await other.close();
    }
    expect(problems).toEqual([]);
  });

  describe('re-entrant calls from callbacks', () => {
    /** Every kind of call a callback might make, on its own session. */
    function reenter(s: Session, seen: Outcome[]): void {
      const tries: (() => unknown)[] = [
        () => s.hostkey(), () => s.lastError(), () => s.methods(0), () => s.blockDirections(),
        () => s.openSession(), () => s.userauthList('x'), () => s.keepaliveSend(), () => s.sftpInit(),
        () => s.setBlocking(false), () => s.openSessionNb(), () => s.trace(0), () => s.disconnect(), () => s.free(),
      ];
      const only = process.env.BAD_INPUT_REENTER_ONLY;
      for (const [i, t] of tries.entries()) {
        if (only !== undefined && Number(only) !== i) continue;
        void attempt(t).then((o) => seen.push(o));
      }
    }

    it('trace handler that calls back into the session (free included)', async () => {
      const s = new Session();
      s.setTimeout(CALL_TIMEOUT_MS);
      const seen: Outcome[] = [];
      let lines = 0;
      s.trace(~0, () => {
        if (lines++ === 5) reenter(s, seen);
      });
      const o = await attempt(async () => {
        await s.handshake(await tcp());
        await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
        const ch = await s.openSession();
        await ch.exec('true');
      });
      await new Promise((r) => setTimeout(r, 500));
      problems.length = 0;
      expectNoCrash('handshake/auth/exec with a re-entrant trace handler', o);
      for (const x of seen) expectNoCrash('a call from the trace handler', x);
      expect(lines).toBeGreaterThan(5);
      expect(problems).toEqual([]);
      await s.close();
    });

    it('sign callback that calls back into the session', async () => {
      const pem = fs.readFileSync(f.keys.ed25519.private, 'utf8');
      const blob = Buffer.from(fs.readFileSync(f.keys.ed25519.public, 'utf8').split(' ')[1], 'base64');
      const key = crypto.createPrivateKey({ key: sshEd25519ToPkcs8(pem), format: 'der', type: 'pkcs8' });
      problems.length = 0;
      for (const freeIt of [false, true]) {
        const s = new Session();
        s.setTimeout(CALL_TIMEOUT_MS);
        await s.handshake(await tcp());
        const seen: Outcome[] = [];
        const o = await attempt(() => s.userauthPublickey(f.user, blob, (d) => {
          if (freeIt) reenter(s, seen);
          else for (const t of [() => s.openSession(), () => s.userauthList('x'), () => s.hostkey(), () => s.lastError()]) {
            void attempt(t).then((x) => seen.push(x));
          }
          return crypto.sign(null, d, key);
        }));
        await new Promise((r) => setTimeout(r, 500));
        expectNoCrash(`userauthPublickey with a re-entrant sign callback (free: ${freeIt})`, o);
        for (const x of seen) expectNoCrash('a call from the sign callback', x);
        if (!freeIt) {
          expect(o.kind).toBe('ok');
          const ch = await s.openSession();
          await ch.exec('true');
        }
        await s.close();
      }
      expect(problems).toEqual([]);
    });

    (fixture().kbdInteractive ? it : it.skip)('keyboard-interactive responder that calls back into the session', async () => {
      problems.length = 0;
      for (const freeIt of [false, true]) {
        const s = new Session();
        s.setTimeout(CALL_TIMEOUT_MS);
        await s.handshake(await tcp());
        const seen: Outcome[] = [];
        const o = await attempt(() => s.userauthKeyboardInteractive(f.user, (_n, _i, prompts) => {
          if (freeIt) reenter(s, seen);
          else for (const t of [() => s.openSession(), () => s.userauthList('x'), () => s.userauthPassword(f.user, 'x'), () => s.hostkey()]) {
            void attempt(t).then((x) => seen.push(x));
          }
          return prompts.map(() => f.password!);
        }));
        await new Promise((r) => setTimeout(r, 500));
        expectNoCrash(`kbd-interactive with a re-entrant responder (free: ${freeIt})`, o);
        for (const x of seen) expectNoCrash('a call from the responder', x);
        if (!freeIt) expect(o.kind).toBe('ok');
        await s.close();
      }
      expect(problems).toEqual([]);
    });
  });
});
