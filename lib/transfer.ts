/**
 * The Node-native SFTP layer: pipelined transfers (`fastGet`/`fastPut`) and the conveniences
 * users of ssh2-sftp-client expect. TypeScript only, on the one-to-one `Sftp` class.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import { Readable, Writable } from 'stream';
import { LIBSSH2_FXF_READ, LIBSSH2_FXF_WRITE, LIBSSH2_FXF_CREAT, LIBSSH2_FXF_TRUNC, LIBSSH2_FXF_APPEND, LIBSSH2_FX_NO_SUCH_FILE } from './constants';
import type { Sftp, SftpAttributes, SftpHandle } from './sftp';
import type { Session } from './session';
import { getReconnect } from './reconnect';
import { badUse, checkInt, checkString } from './check';

/** Options of `fastGet`/`fastPut`. */
export interface TransferOptions {
  /** Bytes per request batch of one worker (default 960000: a multiple of libssh2's 30000). */
  chunkSize?: number;
  /** Parallel workers, each on its own SFTP object (default 4), spread over the connections. */
  concurrency?: number;
  /**
   * Connections to spread the workers over (default 1: this session only). A number needs a
   * session made by `connect()` (without a caller's `sock`): the extra ones connect the same way
   * and are closed at the end. Or a function that opens one more session (authenticated), closed
   * at the end too. Several connections help where one session's CPU (encryption) or a server's
   * per-connection limits cap the rate.
   */
  connections?: number | (() => Promise<Session>);
  /** Called after every chunk with the bytes done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Aborts the transfer: the promise rejects and no partial file is left under the target name. */
  signal?: AbortSignal;
  /** Permissions of the new file (default: those of the source). */
  mode?: number;
}

const DEFAULT_CHUNK = 960000;

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error('the transfer was aborted');
  e.name = 'AbortError';
  return e;
}

function tempName(target: string): string {
  const slash = target.lastIndexOf('/');
  return `${target.slice(0, slash + 1)}.${target.slice(slash + 1)}.part-${crypto.randomBytes(4).toString('hex')}`;
}

function checkOptions(opts: TransferOptions): { chunk: number; workers: number; connections: number } {
  const chunk = opts.chunkSize ?? DEFAULT_CHUNK;
  const workers = opts.concurrency ?? 4;
  const c = opts.connections ?? 1;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 64 * 1024 * 1024) throw new RangeError('chunkSize must be 1..64 MiB');
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new RangeError('concurrency must be 1..64');
  if (typeof c !== 'function' && (!Number.isInteger(c) || c < 1 || c > 16)) {
    throw new RangeError('connections must be 1..16 or a function that opens a session');
  }
  return { chunk, workers, connections: typeof c === 'function' ? 16 : c };
}

/** The extra sessions of a transfer (none for `connections` 1). */
async function openConnections(sftp: Sftp, opts: TransferOptions, count: number): Promise<Session[]> {
  if (count <= 0) return [];
  const open = typeof opts.connections === 'function' ? opts.connections : getReconnect(sftp.session);
  if (!open) {
    throw new RangeError('connections > 1 needs a session made by connect() (without sock), or a function that opens one');
  }
  const settled = await Promise.allSettled(Array.from({ length: count }, () => open()));
  const sessions = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.allSettled(sessions.map((s) => s.close()));
    throw failed.reason;
  }
  return sessions;
}

/**
 * Checks the arguments of a transfer before anything is touched (local files included), and that
 * the SFTP object is still usable: TypeError/RangeError/BadUseError.
 */
function checkTransfer(sftp: Sftp, fn: string, paths: [unknown, string][], opts: unknown): TransferOptions {
  for (const [value, name] of paths) checkString(value, name);
  if (opts === undefined) opts = {};
  if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
  const o = opts as TransferOptions;
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('onProgress must be a function');
  if (o.signal !== undefined && (typeof o.signal !== 'object' || o.signal === null || typeof o.signal.aborted !== 'boolean' ||
    typeof o.signal.addEventListener !== 'function')) {
    throw new TypeError('signal must be an AbortSignal');
  }
  if (o.mode !== undefined) checkInt(o.mode, 'mode', 0, 0o7777);
  checkOptions(o);
  if (sftp.native.isFreed()) throw badUse('the SFTP session has been shut down', fn);
  return o;
}

/**
 * Runs up to `concurrency` workers, each on its own SFTP object (the first is `sftp` itself:
 * calls on one SFTP object run one at a time) and over its own contiguous segment of the file,
 * in `chunkSize` pieces. Contiguous pieces keep libssh2's read-ahead and write pipelining useful:
 * a seek discards the read-ahead already requested (measured: seeking per chunk made a 1 GiB
 * fastGet transfer about 4x the data).
 */
async function runWorkers(sftp: Sftp, path: string, flags: number, total: number, opts: TransferOptions,
  work: (handle: SftpHandle, offset: number, length: number, buffer: Buffer) => Promise<void>): Promise<void> {
  const { chunk, workers, connections } = checkOptions(opts);
  const count = Math.max(1, Math.min(workers, Math.ceil(total / chunk)));
  const segment = Math.ceil(total / count / chunk) * chunk;
  // Worker i runs on session i % sessions: this one first, then the extra connections.
  const sessions = [sftp.session, ...await openConnections(sftp, opts, Math.min(connections, count) - 1)];
  const inits = await Promise.allSettled(Array.from({ length: count - 1 }, (_, i) => sessions[(i + 1) % sessions.length].sftpInit()));
  const extra = inits.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const initFailed = inits.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (initFailed) {
    await Promise.allSettled(extra.map((x) => x.shutdown()));
    await Promise.allSettled(sessions.slice(1).map((s) => s.close()));
    throw initFailed.reason;
  }
  let done = 0;
  let failed = false;
  try {
    await Promise.all([sftp, ...extra].map(async (worker, i) => {
      const start = i * segment;
      const end = Math.min(total, start + segment);
      if (start >= end) return;
      const handle = await worker.open(path, flags);
      // One buffer per worker, reused: a new one per chunk cost ~30 full GCs per GiB (bench/README.md).
      const buffer = Buffer.allocUnsafe(Math.min(chunk, end - start));
      try {
        handle.seek64(start);
        for (let offset = start; offset < end && !failed; offset += chunk) {
          if (opts.signal?.aborted) throw abortError(opts.signal);
          const length = Math.min(chunk, end - offset);
          await work(handle, offset, length, buffer);
          done += length;
          opts.onProgress?.(done, total);
        }
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        await handle.close();
      }
    }));
  } finally {
    await Promise.allSettled(extra.map((x) => x.shutdown()));
    await Promise.allSettled(sessions.slice(1).map((s) => s.close()));
  }
}

/** Downloads `remote` to `local` (a temporary name first, renamed when complete). */
export async function fastGet(sftp: Sftp, remote: string, local: string, opts: TransferOptions = {}): Promise<void> {
  checkTransfer(sftp, 'fastGet', [[remote, 'remote'], [local, 'local']], opts);
  if (opts.signal?.aborted) throw abortError(opts.signal);
  const attrs = await sftp.stat(remote);
  const total = attrs.filesize;
  const temp = tempName(local);
  const file = await fs.promises.open(temp, 'wx', opts.mode ?? (attrs.permissions & 0o7777 || 0o644));
  try {
    await runWorkers(sftp, remote, LIBSSH2_FXF_READ, total, opts, async (h, offset, length, buffer) => {
      let got = 0;
      while (got < length) {
        if (opts.signal?.aborted) throw abortError(opts.signal);
        const n = await h.readInto(buffer.subarray(0, Math.min(length - got, buffer.length)));
        if (n === 0) throw new Error(`${remote} ended at ${offset + got} bytes, expected ${total}`);
        await file.write(buffer, 0, n, offset + got);
        got += n;
      }
    });
    await file.close();
    await fs.promises.rename(temp, local);
  } catch (e) {
    await file.close().catch(() => undefined);
    await fs.promises.unlink(temp).catch(() => undefined);
    throw e;
  }
}

/** Uploads `local` to `remote` (a temporary name first, renamed over the target when complete). */
export async function fastPut(sftp: Sftp, local: string, remote: string, opts: TransferOptions = {}): Promise<void> {
  checkTransfer(sftp, 'fastPut', [[local, 'local'], [remote, 'remote']], opts);
  if (opts.signal?.aborted) throw abortError(opts.signal);
  const st = await fs.promises.stat(local);
  const total = st.size;
  const temp = tempName(remote);
  const file = await fs.promises.open(local, 'r');
  try {
    const create = await sftp.open(temp, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, opts.mode ?? (st.mode & 0o7777));
    await create.close();
    await runWorkers(sftp, temp, LIBSSH2_FXF_WRITE, total, opts, async (h, offset, length, buffer) => {
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      if (bytesRead !== length) throw new Error(`${local} changed size during the upload`);
      if (opts.signal?.aborted) throw abortError(opts.signal);
      await h.write(buffer.subarray(0, length)); // the binding copies the bytes when called
    });
    await sftp.posixRename(temp, remote);
  } catch (e) {
    await sftp.unlink(temp).catch(() => undefined);
    throw e;
  } finally {
    await file.close();
  }
}

/** Reads a whole remote file. */
export async function readFile(sftp: Sftp, path: string): Promise<Buffer> {
  const h = await sftp.open(path, LIBSSH2_FXF_READ);
  try {
    const parts: Buffer[] = [];
    for (let b = await h.read(); b.length; b = await h.read()) parts.push(b);
    return Buffer.concat(parts);
  } finally {
    await h.close();
  }
}

/** Writes a whole remote file (created or truncated). */
export async function writeFile(sftp: Sftp, path: string, data: Buffer | string, mode = 0o644): Promise<void> {
  const h = await sftp.open(path, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, mode);
  try {
    await h.write(data);
  } finally {
    await h.close();
  }
}

/** `false`, or the type of what is at `path`: 'd' directory, '-' file, 'l' link, '?' other. */
export async function exists(sftp: Sftp, path: string): Promise<false | 'd' | '-' | 'l' | '?'> {
  let a: SftpAttributes;
  try {
    a = await sftp.lstat(path);
  } catch (e) {
    if ((e as { status?: number }).status === LIBSSH2_FX_NO_SUCH_FILE) return false;
    throw e;
  }
  return a.isDirectory() ? 'd' : a.isFile() ? '-' : a.isSymbolicLink() ? 'l' : '?';
}

/** One entry of `list()`. */
export interface ListEntry {
  name: string;
  type: 'd' | '-' | 'l' | '?';
  size: number;
  /** Milliseconds since the epoch, as ssh2-sftp-client reports them. */
  modifyTime: number;
  accessTime: number;
  owner: number;
  group: number;
  /** Permission bits (`permissions & 0o7777`). */
  mode: number;
  longname: string;
  attrs: SftpAttributes;
}

/** The entries of a directory, without `.` and `..`. */
export async function list(sftp: Sftp, dir: string): Promise<ListEntry[]> {
  const h = await sftp.opendir(dir);
  const out: ListEntry[] = [];
  try {
    for await (const [name, attrs, longname] of h) {
      if (name === '.' || name === '..') continue;
      out.push({
        name,
        type: attrs.isDirectory() ? 'd' : attrs.isFile() ? '-' : attrs.isSymbolicLink() ? 'l' : '?',
        size: attrs.filesize,
        modifyTime: attrs.mtime * 1000,
        accessTime: attrs.atime * 1000,
        owner: attrs.uid,
        group: attrs.gid,
        mode: attrs.permissions & 0o7777,
        longname,
        attrs,
      });
    }
  } finally {
    await h.close();
  }
  return out;
}

/** Options of `createReadStream`. */
export interface ReadStreamOptions {
  /** First byte (default 0). */
  start?: number;
  /** Last byte, inclusive (default: to the end). */
  end?: number;
  /** Bytes per read (default 120000). */
  highWaterMark?: number;
}

/** A Readable of a remote file (one SFTP request batch per `highWaterMark`). */
export function createReadStream(sftp: Sftp, path: string, opts: ReadStreamOptions = {}): Readable {
  const start = opts.start ?? 0;
  const end = opts.end ?? Infinity;
  const size = opts.highWaterMark ?? 120000;
  let handle: SftpHandle | undefined;
  let pos = start;
  return new Readable({
    highWaterMark: size,
    async construct(callback) {
      try {
        handle = await sftp.open(path, LIBSSH2_FXF_READ);
        if (start > 0) handle.seek64(start);
        callback();
      } catch (e) {
        callback(e as Error);
      }
    },
    async read() {
      try {
        const want = Math.min(size, end - pos + 1);
        const b = want > 0 ? await handle!.read(want) : Buffer.alloc(0);
        pos += b.length;
        this.push(b.length ? b : null);
      } catch (e) {
        this.destroy(e as Error);
      }
    },
    destroy(err, callback) {
      (handle ? handle.close() : Promise.resolve()).then(() => callback(err), (e: Error) => callback(err ?? e));
    },
  });
}

/** Options of `createWriteStream`. */
export interface WriteStreamOptions {
  /** 'w' (create or truncate, default) or 'a' (append). */
  flags?: 'w' | 'a';
  /** Permissions of a new file (default 0o644). */
  mode?: number;
}

/** A Writable to a remote file; 'finish' comes after the handle was closed. */
export function createWriteStream(sftp: Sftp, path: string, opts: WriteStreamOptions = {}): Writable {
  const flags = LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | (opts.flags === 'a' ? LIBSSH2_FXF_APPEND : LIBSSH2_FXF_TRUNC);
  let handle: SftpHandle | undefined;
  return new Writable({
    async construct(callback) {
      try {
        handle = await sftp.open(path, flags, opts.mode ?? 0o644);
        callback();
      } catch (e) {
        callback(e as Error);
      }
    },
    write(chunk: Buffer, _encoding, callback) {
      handle!.write(chunk).then(() => callback(), callback);
    },
    final(callback) {
      handle!.close().then(() => callback(), callback);
    },
    destroy(err, callback) {
      (handle ? handle.close() : Promise.resolve()).then(() => callback(err), (e: Error) => callback(err ?? e));
    },
  });
}

/** Copies the remote directory `remote` into the local `local` (created), recursively, keeping mode and mtime. */
export async function getDirectory(sftp: Sftp, remote: string, local: string, opts: TransferOptions = {}): Promise<void> {
  checkTransfer(sftp, 'getDirectory', [[remote, 'remote'], [local, 'local']], opts);
  const attrs = await sftp.stat(remote);
  await fs.promises.mkdir(local, { recursive: true, mode: attrs.permissions & 0o7777 });
  for (const e of await list(sftp, remote)) {
    const from = `${remote}/${e.name}`;
    const to = `${local}/${e.name}`;
    if (e.type === 'd') await getDirectory(sftp, from, to, opts);
    else if (e.type === '-') {
      await fastGet(sftp, from, to, { ...opts, mode: e.mode });
      await fs.promises.utimes(to, e.attrs.atime, e.attrs.mtime);
    }
  }
  await fs.promises.utimes(local, attrs.atime, attrs.mtime);
}

/** Copies the local directory `local` to `remote` (created), recursively, keeping mode and mtime. */
export async function putDirectory(sftp: Sftp, local: string, remote: string, opts: TransferOptions = {}): Promise<void> {
  checkTransfer(sftp, 'putDirectory', [[local, 'local'], [remote, 'remote']], opts);
  const st = await fs.promises.stat(local);
  if (!(await exists(sftp, remote))) await sftp.mkdir(remote, st.mode & 0o7777);
  for (const e of await fs.promises.readdir(local, { withFileTypes: true })) {
    const from = `${local}/${e.name}`;
    const to = `${remote}/${e.name}`;
    if (e.isDirectory()) await putDirectory(sftp, from, to, opts);
    else if (e.isFile()) {
      const fst = await fs.promises.stat(from);
      await fastPut(sftp, from, to, { ...opts, mode: fst.mode & 0o7777 });
      await sftp.setstat(to, { atime: Math.floor(fst.atimeMs / 1000), mtime: Math.floor(fst.mtimeMs / 1000) });
    }
  }
  await sftp.setstat(remote, { atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) });
}
