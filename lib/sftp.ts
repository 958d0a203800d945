/**
 * SFTP: `Sftp` (`LIBSSH2_SFTP`, `libssh2_sftp_*`) and `SftpHandle` (`LIBSSH2_SFTP_HANDLE`).
 * Every call on one `Sftp` and its handles runs one at a time (libssh2 keeps request state per
 * SFTP object); for parallel transfers open several `Sftp` objects on the session.
 */
import type { Session } from './session';
import type { NativeSftp, NativeSftpHandle, NativeAttrs } from './native';
import { createError, type Libssh2Error } from './errors';
import {
  LIBSSH2_ERROR_SFTP_PROTOCOL, LIBSSH2_FX_FAILURE, LIBSSH2_SFTP_OPENFILE, LIBSSH2_SFTP_OPENDIR, LIBSSH2_SFTP_STAT, LIBSSH2_SFTP_LSTAT,
  LIBSSH2_SFTP_SYMLINK, LIBSSH2_SFTP_READLINK, LIBSSH2_SFTP_REALPATH, LIBSSH2_SFTP_RENAME_OVERWRITE,
  LIBSSH2_SFTP_RENAME_ATOMIC, LIBSSH2_SFTP_RENAME_NATIVE, LIBSSH2_SFTP_S_IFMT, LIBSSH2_SFTP_S_IFDIR,
  LIBSSH2_SFTP_S_IFREG, LIBSSH2_SFTP_S_IFLNK, LIBSSH2_FX_NO_SUCH_FILE,
} from './constants';
import * as transfer from './transfer';
import type { TransferOptions, ListEntry, ReadStreamOptions, WriteStreamOptions } from './transfer';
import type { Readable, Writable } from 'stream';
import { badUse, checkInt, checkString } from './check';
import { fail, inNbCall, installNb, runOp, type Nb } from './nb';

const MAX_IO = 1 << 30;

/** `LIBSSH2_SFTP_ATTRIBUTES`. Plain objects with the same fields are accepted by `setstat`. */
export class SftpAttributes {
  /** `LIBSSH2_SFTP_ATTR_*` bits: which fields are valid. */
  flags = 0;
  filesize = 0;
  uid = 0;
  gid = 0;
  permissions = 0;
  atime = 0;
  mtime = 0;

  /** Attributes with the given fields (the others 0). */
  constructor(init?: Partial<NativeAttrs>) {
    if (init) Object.assign(this, init);
  }

  /** Alias of `filesize`. */
  get size(): number {
    return this.filesize;
  }

  /** `LIBSSH2_SFTP_S_ISDIR(permissions)`. */
  isDirectory(): boolean {
    return (this.permissions & LIBSSH2_SFTP_S_IFMT) === LIBSSH2_SFTP_S_IFDIR;
  }

  /** `LIBSSH2_SFTP_S_ISREG(permissions)`. */
  isFile(): boolean {
    return (this.permissions & LIBSSH2_SFTP_S_IFMT) === LIBSSH2_SFTP_S_IFREG;
  }

  /** `LIBSSH2_SFTP_S_ISLNK(permissions)`. */
  isSymbolicLink(): boolean {
    return (this.permissions & LIBSSH2_SFTP_S_IFMT) === LIBSSH2_SFTP_S_IFLNK;
  }
}

/** `LIBSSH2_SFTP_STATVFS`. */
export interface SftpStatVfs {
  f_bsize: number;
  f_frsize: number;
  f_blocks: number;
  f_bfree: number;
  f_bavail: number;
  f_files: number;
  f_ffree: number;
  f_favail: number;
  f_fsid: number;
  f_flag: number;
  f_namemax: number;
}

/** What `setstat`/`fsetstat` take: any subset of the attribute fields. */
export type SftpAttributesInput = Partial<Pick<SftpAttributes, 'flags' | 'filesize' | 'uid' | 'gid' | 'permissions' | 'atime' | 'mtime'>> & { size?: number };

function attrsInput(attrs: unknown): SftpAttributesInput {
  if (typeof attrs !== 'object' || attrs === null) throw new TypeError('attrs must be an object');
  const a = attrs as SftpAttributesInput;
  const out: Record<string, number> = {};
  for (const k of ['flags', 'filesize', 'size', 'uid', 'gid', 'permissions', 'atime', 'mtime'] as const) {
    const v = a[k];
    if (v === undefined) continue;
    checkInt(v, `attrs.${k}`, 0, Number.MAX_SAFE_INTEGER);
    out[k] = v;
  }
  return out;
}

/**
 * An SFTP session (`LIBSSH2_SFTP`), from `session.sftpInit()`. It keeps its session alive;
 * `shutdown()` closes its open handles first.
 */
export class Sftp {
  /** @internal */
  readonly native: NativeSftp;
  /** The session this SFTP object belongs to. */
  readonly session: Session;

  // ---- non-blocking twins (lib/nb.ts): one attempt, the value or LIBSSH2_ERROR_EAGAIN ----------

  /** Non-blocking {@link Sftp.open}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare openNb: Nb<Sftp['open']>;
  /** Non-blocking {@link Sftp.opendir}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare opendirNb: Nb<Sftp['opendir']>;
  /** Non-blocking {@link Sftp.stat}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare statNb: Nb<Sftp['stat']>;
  /** Non-blocking {@link Sftp.lstat}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare lstatNb: Nb<Sftp['lstat']>;
  /** Non-blocking {@link Sftp.setstat}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare setstatNb: Nb<Sftp['setstat']>;
  /** Non-blocking {@link Sftp.statvfs}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare statvfsNb: Nb<Sftp['statvfs']>;
  /** Non-blocking {@link Sftp.mkdir}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare mkdirNb: Nb<Sftp['mkdir']>;
  /** Non-blocking {@link Sftp.rmdir}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare rmdirNb: Nb<Sftp['rmdir']>;
  /** Non-blocking {@link Sftp.unlink}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare unlinkNb: Nb<Sftp['unlink']>;
  /** Non-blocking {@link Sftp.rename}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare renameNb: Nb<Sftp['rename']>;
  /** Non-blocking {@link Sftp.posixRename}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare posixRenameNb: Nb<Sftp['posixRename']>;
  /** Non-blocking {@link Sftp.symlink}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare symlinkNb: Nb<Sftp['symlink']>;
  /** Non-blocking {@link Sftp.readlink}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare readlinkNb: Nb<Sftp['readlink']>;
  /** Non-blocking {@link Sftp.realpath}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare realpathNb: Nb<Sftp['realpath']>;
  /** Non-blocking {@link Sftp.shutdown}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare shutdownNb: Nb<Sftp['shutdown']>;

  /** @internal SFTP objects come from `session.sftpInit()`. */
  constructor(session: Session, native: NativeSftp) {
    this.session = session;
    this.native = native;
  }

  /** A one-to-one op: async, or one attempt inside its `…Nb()` twin (lib/nb.ts). */
  #run<N, R = N>(fn: string, body: () => Promise<N>, map?: (value: N) => R): Promise<R> {
    return runOp(this.session, fn, () => {
      if (this.native.isFreed()) throw badUse('the SFTP session has been shut down', fn);
    }, body, map);
  }

  #handle(native: NativeSftpHandle): SftpHandle {
    return new SftpHandle(this, native);
  }

  /** `libssh2_sftp_open_ex()` of a file: `flags` are `LIBSSH2_FXF_*`, `mode` the permissions. */
  open(path: string, flags: number, mode = 0o644): Promise<SftpHandle> {
    return this.#run('libssh2_sftp_open_ex', () => {
      checkString(path, 'path');
      checkInt(flags, 'flags', 0, 0xffffffff);
      checkInt(mode, 'mode', 0, 0o7777);
      return this.native.open(path, flags, mode, LIBSSH2_SFTP_OPENFILE);
    }, (n) => this.#handle(n));
  }

  /** `libssh2_sftp_opendir()`. The handle is an async iterable of `[name, attrs, longentry]`. */
  opendir(path: string): Promise<SftpHandle> {
    return this.#run('libssh2_sftp_open_ex', () => {
      checkString(path, 'path');
      return this.native.open(path, 0, 0, LIBSSH2_SFTP_OPENDIR);
    }, (n) => this.#handle(n));
  }

  /** `libssh2_sftp_stat()`: follows symbolic links. */
  stat(path: string): Promise<SftpAttributes> {
    return this.#run('libssh2_sftp_stat_ex', () => {
      checkString(path, 'path');
      return this.native.stat(path, LIBSSH2_SFTP_STAT);
    }, (a) => new SftpAttributes(a));
  }

  /** `libssh2_sftp_lstat()`. */
  lstat(path: string): Promise<SftpAttributes> {
    return this.#run('libssh2_sftp_stat_ex', () => {
      checkString(path, 'path');
      return this.native.stat(path, LIBSSH2_SFTP_LSTAT);
    }, (a) => new SftpAttributes(a));
  }

  /** `libssh2_sftp_setstat()`: sets the fields present (`flags` computed unless given). */
  setstat(path: string, attrs: SftpAttributesInput): Promise<void> {
    return this.#run('libssh2_sftp_stat_ex', () => {
      checkString(path, 'path');
      return this.native.setstat(path, attrsInput(attrs));
    });
  }

  /** `libssh2_sftp_statvfs()` (the statvfs@openssh.com extension). */
  statvfs(path: string): Promise<SftpStatVfs> {
    return this.#run('libssh2_sftp_statvfs', () => {
      checkString(path, 'path');
      return this.native.statvfs(path);
    });
  }

  /**
   * `libssh2_sftp_mkdir_ex(path, mode)`; with an options object, `{ recursive: true }` also
   * creates missing parents and accepts an existing directory.
   */
  mkdir(path: string, mode?: number | { recursive?: boolean; mode?: number }): Promise<void> {
    if (mode !== undefined && typeof mode !== 'number' && (typeof mode !== 'object' || mode === null || Array.isArray(mode))) {
      return fail(new TypeError('mode must be a number or { recursive, mode }'));
    }
    const opts = typeof mode === 'object' ? mode : { mode };
    const m = opts.mode ?? 0o755;
    if (!opts.recursive) {
      return this.#run('libssh2_sftp_mkdir_ex', () => {
        checkString(path, 'path');
        checkInt(m, 'mode', 0, 0o7777);
        return this.native.mkdir(path, m);
      });
    }
    if (inNbCall()) return fail(badUse('mkdir(path, { recursive }) has no …Nb() form', 'libssh2_sftp_mkdir_ex'));
    return this.#run('libssh2_sftp_mkdir_ex', async () => {
      checkString(path, 'path');
      checkInt(m, 'mode', 0, 0o7777);
      const parts = path.split('/');
      for (let i = 1; i <= parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        if (dir === '' || dir === '.') continue;
        const existing = await this.stat(dir).catch((e: Libssh2Error & { status?: number }) => {
          if (e.status === LIBSSH2_FX_NO_SUCH_FILE) return null;
          throw e;
        });
        if (existing && !existing.isDirectory()) throw createError(LIBSSH2_ERROR_SFTP_PROTOCOL, 'libssh2_sftp_mkdir_ex', `${dir} is not a directory`, LIBSSH2_FX_FAILURE);
        if (!existing) await this.native.mkdir(dir, m);
      }
    });
  }

  /** `libssh2_sftp_rmdir_ex(path)`; `{ recursive: true }` removes the contents first. */
  rmdir(path: string, opts?: { recursive?: boolean }): Promise<void> {
    if (!opts?.recursive) {
      return this.#run('libssh2_sftp_rmdir_ex', () => {
        checkString(path, 'path');
        return this.native.rmdir(path);
      });
    }
    if (inNbCall()) return fail(badUse('rmdir(path, { recursive }) has no …Nb() form', 'libssh2_sftp_rmdir_ex'));
    return this.#run('libssh2_sftp_rmdir_ex', async () => {
      checkString(path, 'path');
      {
        const dir = await this.opendir(path);
        const entries: [string, SftpAttributes][] = [];
        try {
          for await (const [name, attrs] of dir) if (name !== '.' && name !== '..') entries.push([name, attrs]);
        } finally {
          await dir.close();
        }
        for (const [name, attrs] of entries) {
          const child = `${path}/${name}`;
          if (attrs.isDirectory()) await this.rmdir(child, opts);
          else await this.unlink(child);
        }
      }
      return this.native.rmdir(path);
    });
  }

  /** `libssh2_sftp_unlink_ex()`. */
  unlink(path: string): Promise<void> {
    return this.#run('libssh2_sftp_unlink_ex', () => {
      checkString(path, 'path');
      return this.native.unlink(path);
    });
  }

  /**
   * `libssh2_sftp_rename_ex()`: `flags` are `LIBSSH2_SFTP_RENAME_*` (default OVERWRITE | ATOMIC |
   * NATIVE, as libssh2_sftp_rename). SFTP v3 servers such as OpenSSH ignore them and refuse to
   * replace an existing file: use `posixRename` for that.
   */
  rename(source: string, destination: string,
    flags = LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE): Promise<void> {
    return this.#run('libssh2_sftp_rename_ex', () => {
      checkString(source, 'source');
      checkString(destination, 'destination');
      checkInt(flags, 'flags', 0, 7);
      return this.native.rename(source, destination, flags);
    });
  }

  /** `libssh2_sftp_posix_rename_ex()` (posix-rename@openssh.com): replaces an existing destination. */
  posixRename(source: string, destination: string): Promise<void> {
    return this.#run('libssh2_sftp_posix_rename_ex', () => {
      checkString(source, 'source');
      checkString(destination, 'destination');
      return this.native.posixRename(source, destination);
    });
  }

  /** `libssh2_sftp_symlink(orig, linkpath)`: creates `linkpath` pointing at `orig`. */
  symlink(orig: string, linkpath: string): Promise<void> {
    return this.#run('libssh2_sftp_symlink_ex', () => {
      checkString(orig, 'orig');
      checkString(linkpath, 'linkpath');
      return this.native.symlink(orig, linkpath, LIBSSH2_SFTP_SYMLINK);
    }, () => undefined);
  }

  /** `libssh2_sftp_readlink()`. */
  readlink(path: string): Promise<string> {
    return this.#run('libssh2_sftp_symlink_ex', () => {
      checkString(path, 'path');
      return this.native.symlink(path, undefined, LIBSSH2_SFTP_READLINK);
    }, (target) => target as string);
  }

  /** `libssh2_sftp_realpath()`. */
  realpath(path: string): Promise<string> {
    return this.#run('libssh2_sftp_symlink_ex', () => {
      checkString(path, 'path');
      return this.native.symlink(path, undefined, LIBSSH2_SFTP_REALPATH);
    }, (target) => target as string);
  }

  /** `libssh2_sftp_last_error()`: the status of the last failed request (`LIBSSH2_FX_*`). */
  lastError(): number {
    if (this.native.isFreed()) throw badUse('the SFTP session has been shut down', 'libssh2_sftp_last_error');
    return this.native.lastError();
  }

  // ---- Node-native conveniences (lib/transfer.ts) ----------------------------------------

  /**
   * Downloads `remote` to the local path `local` with `concurrency` SFTP objects in parallel;
   * the file appears under `local` only when complete (written to a temporary name first).
   * Node-native layer over `libssh2_sftp_open_ex` and `libssh2_sftp_read`.
   */
  fastGet(remote: string, local: string, opts?: TransferOptions): Promise<void> {
    return transfer.fastGet(this, remote, local, opts);
  }

  /**
   * Uploads `local` to `remote`, like `fastGet` the other way (posix-rename over the target).
   * Node-native layer over `libssh2_sftp_open_ex`, `libssh2_sftp_write` and
   * `libssh2_sftp_posix_rename_ex`.
   */
  fastPut(local: string, remote: string, opts?: TransferOptions): Promise<void> {
    return transfer.fastPut(this, local, remote, opts);
  }

  /** Downloads a remote directory tree, keeping mode and mtime (`libssh2_sftp_readdir_ex`, `fastGet`). */
  getDirectory(remote: string, local: string, opts?: TransferOptions): Promise<void> {
    return transfer.getDirectory(this, remote, local, opts);
  }

  /** Uploads a local directory tree, keeping mode and mtime (`fastPut`, `libssh2_sftp_setstat`). */
  putDirectory(local: string, remote: string, opts?: TransferOptions): Promise<void> {
    return transfer.putDirectory(this, local, remote, opts);
  }

  /**
   * A Readable of a remote file (`start`/`end` inclusive, `highWaterMark` bytes per read):
   * `libssh2_sftp_open_ex`, `libssh2_sftp_seek64`, `libssh2_sftp_read`.
   */
  createReadStream(path: string, opts?: ReadStreamOptions): Readable {
    return transfer.createReadStream(this, path, opts);
  }

  /** A Writable to a remote file (`flags` 'w' or 'a', `mode`): `libssh2_sftp_open_ex`, `libssh2_sftp_write`. */
  createWriteStream(path: string, opts?: WriteStreamOptions): Writable {
    return transfer.createWriteStream(this, path, opts);
  }

  /** The whole content of a remote file (`libssh2_sftp_open_ex`, `libssh2_sftp_read` to EOF). */
  readFile(path: string): Promise<Buffer> {
    return transfer.readFile(this, path);
  }

  /** Creates or replaces a remote file with `data` (`libssh2_sftp_open_ex`, `libssh2_sftp_write`). */
  writeFile(path: string, data: Buffer | string, mode?: number): Promise<void> {
    return transfer.writeFile(this, path, data, mode);
  }

  /**
   * `false`, or what is at `path`: 'd' directory, '-' file, 'l' symbolic link, '?' other
   * (`libssh2_sftp_lstat`; `false` on `LIBSSH2_FX_NO_SUCH_FILE`).
   */
  exists(path: string): Promise<false | 'd' | '-' | 'l' | '?'> {
    return transfer.exists(this, path);
  }

  /** The entries of a directory (without `.` and `..`), ssh2-sftp-client style (`libssh2_sftp_readdir_ex`). */
  list(dir: string): Promise<ListEntry[]> {
    return transfer.list(this, dir);
  }

  /** `libssh2_sftp_shutdown()`: closes open handles, then the SFTP channel. Idempotent. */
  shutdown(): Promise<void> {
    return runOp(this.session, 'libssh2_sftp_shutdown', () => undefined, () => this.native.shutdown(), undefined, true);
  }

  /** `await using sftp = await session.sftpInit()`: shutdown on scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}

/** A directory entry: name, attributes, and the `ls -l` style long entry. */
export type SftpDirEntry = [name: string, attrs: SftpAttributes, longentry: string];

/** An open file or directory (`LIBSSH2_SFTP_HANDLE`). */
export class SftpHandle {
  /** @internal */
  readonly native: NativeSftpHandle;
  /** The SFTP object this handle belongs to. */
  readonly sftp: Sftp;

  // ---- non-blocking twins (lib/nb.ts): one attempt, the value or LIBSSH2_ERROR_EAGAIN ----------

  /** Non-blocking {@link SftpHandle.read}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare readNb: Nb<SftpHandle['read']>;
  /** Non-blocking {@link SftpHandle.readInto}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare readIntoNb: Nb<SftpHandle['readInto']>;
  /** Non-blocking {@link SftpHandle.write}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare writeNb: Nb<SftpHandle['write']>;
  /** Non-blocking {@link SftpHandle.readdir}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare readdirNb: Nb<SftpHandle['readdir']>;
  /** Non-blocking {@link SftpHandle.fstat}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare fstatNb: Nb<SftpHandle['fstat']>;
  /** Non-blocking {@link SftpHandle.fsetstat}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare fsetstatNb: Nb<SftpHandle['fsetstat']>;
  /** Non-blocking {@link SftpHandle.fstatvfs}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare fstatvfsNb: Nb<SftpHandle['fstatvfs']>;
  /** Non-blocking {@link SftpHandle.fsync}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare fsyncNb: Nb<SftpHandle['fsync']>;
  /** Non-blocking {@link SftpHandle.close}: one attempt; its value (0 for void) or `LIBSSH2_ERROR_EAGAIN`. */
  declare closeNb: Nb<SftpHandle['close']>;

  /** @internal Handles come from `sftp.open()`/`opendir()`. */
  constructor(sftp: Sftp, native: NativeSftpHandle) {
    this.sftp = sftp;
    this.native = native;
  }

  /** A one-to-one op: async, or one attempt inside its `…Nb()` twin (lib/nb.ts). */
  #run<N, R = N>(fn: string, body: () => Promise<N>, map?: (value: N) => R): Promise<R> {
    return runOp(this.sftp.session, fn, () => {
      if (this.native.isFreed()) throw badUse('the SFTP handle has been closed', fn);
    }, body, map);
  }

  /**
   * `libssh2_sftp_read()`: at most `size` bytes (libssh2 reads ahead); an empty Buffer at EOF.
   * Sizes that are multiples of 30000 waste no packets.
   */
  read(size = 120000): Promise<Buffer> {
    return this.#run('libssh2_sftp_read', () => {
      checkInt(size, 'size', 1, MAX_IO);
      return this.native.read(size);
    });
  }

  /** `libssh2_sftp_read()` into `buf`: resolves to the byte count (0 at EOF). */
  readInto(buf: Buffer): Promise<number> {
    return this.#run('libssh2_sftp_read', () => {
      if (!Buffer.isBuffer(buf) || buf.length === 0) throw new TypeError('buf must be a non-empty Buffer');
      return this.native.readInto(buf);
    });
  }

  /** `libssh2_sftp_write()`: writes all of `data` and resolves to its length. */
  write(data: Buffer | Uint8Array | string): Promise<number> {
    return this.#run('libssh2_sftp_write', () => {
      if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError('data must be a Buffer or a string');
      return this.native.write(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
  }

  /** `libssh2_sftp_readdir_ex()`: the next entry, or null at the end of the directory. */
  readdir(): Promise<SftpDirEntry | null> {
    return this.#run('libssh2_sftp_readdir_ex', () => this.native.readdir(),
      (e): SftpDirEntry | null => e && [e[0], new SftpAttributes(e[1]), e[2]]);
  }

  /** Iterates the entries of a directory handle (`libssh2_sftp_readdir_ex` until it returns 0). */
  async *[Symbol.asyncIterator](): AsyncGenerator<SftpDirEntry> {
    for (let e = await this.readdir(); e; e = await this.readdir()) yield e;
  }

  /** `libssh2_sftp_fstat()`. */
  fstat(): Promise<SftpAttributes> {
    return this.#run('libssh2_sftp_fstat_ex', () => this.native.fstat(), (a) => new SftpAttributes(a));
  }

  /** `libssh2_sftp_fsetstat()`. */
  fsetstat(attrs: SftpAttributesInput): Promise<void> {
    return this.#run('libssh2_sftp_fstat_ex', () => this.native.fsetstat(attrsInput(attrs)));
  }

  /** `libssh2_sftp_fstatvfs()`. */
  fstatvfs(): Promise<SftpStatVfs> {
    return this.#run('libssh2_sftp_fstatvfs', () => this.native.fstatvfs());
  }

  /** `libssh2_sftp_fsync()` (fsync@openssh.com). */
  fsync(): Promise<void> {
    return this.#run('libssh2_sftp_fsync', () => this.native.fsync());
  }

  /**
   * `libssh2_sftp_seek64()`: drops libssh2's read-ahead. Throws `BadUseError` while an op on
   * this handle is pending. Call `seek64(tell64())` when switching between reading and writing.
   */
  seek64(offset: number): void {
    checkInt(offset, 'offset', 0, Number.MAX_SAFE_INTEGER);
    this.native.seek64(offset);
  }

  /** `libssh2_sftp_tell64()`. */
  tell64(): number {
    return this.native.tell64();
  }

  /** `libssh2_sftp_rewind()`. */
  rewind(): void {
    this.native.rewind();
  }

  /** `libssh2_sftp_close_handle()`. Idempotent. */
  close(): Promise<void> {
    return runOp(this.sftp.session, 'libssh2_sftp_close_handle', () => undefined, () => this.native.close(), undefined, true);
  }

  /** `await using h = await sftp.open(...)`: close on scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The `…Nb()` twins of every async one-to-one method whose C function can return EAGAIN. */
export const SFTP_NB_METHODS = [
  'open',
  'opendir',
  'stat',
  'lstat',
  'setstat',
  'statvfs',
  'mkdir',
  'rmdir',
  'unlink',
  'rename',
  'posixRename',
  'symlink',
  'readlink',
  'realpath',
  'shutdown',
] as const;
installNb(Sftp, SFTP_NB_METHODS, (s) => s.session);

/** The `…Nb()` twins of the handle methods. */
export const SFTP_HANDLE_NB_METHODS = [
  'read',
  'readInto',
  'write',
  'readdir',
  'fstat',
  'fsetstat',
  'fstatvfs',
  'fsync',
  'close',
] as const;
installNb(SftpHandle, SFTP_HANDLE_NB_METHODS, (h) => h.sftp.session);
