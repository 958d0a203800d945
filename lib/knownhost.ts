/**
 * `KnownHosts`: libssh2's known-hosts collection (`LIBSSH2_KNOWNHOSTS`, `libssh2_knownhost_*`).
 * Local and synchronous. libssh2 reads OpenSSH's format but knows neither `@revoked` nor
 * `@cert-authority`; `connect()` of the Node-native layer has its own parser for those.
 */
import type { Session } from './session';
import type { NativeKnownHosts } from './native';
import { checkInt, checkOptString, checkString, toBuffer } from './check';

/** An entry (`struct libssh2_knownhost`); pass it back to `writeline`/`del` of its collection. */
export interface KnownHost {
  /** The plain host name, or null for a hashed entry. */
  name: string | null;
  /** The key, base64. */
  key: string | null;
  /** `LIBSSH2_KNOWNHOST_TYPE_*`, `_KEYENC_*` and `_KEY_*` bits. */
  typemask: number;
}

/** What `checkp` found: `LIBSSH2_KNOWNHOST_CHECK_*` and the matching entry. */
export interface KnownHostCheck {
  result: number;
  host: KnownHost | null;
}

/** A known-hosts collection, from `session.knownhostInit()`. */
export class KnownHosts {
  /** @internal */
  readonly native: NativeKnownHosts;
  /** The session this collection belongs to (it uses the session's allocator). */
  readonly session: Session;

  /** @internal */
  constructor(session: Session, native: NativeKnownHosts) {
    this.session = session;
    this.native = native;
  }

  /** `libssh2_knownhost_readfile()` (OpenSSH format): the number of entries read. */
  readfile(filename: string): number {
    checkString(filename, 'filename');
    return this.native.readfile(filename);
  }

  /** `libssh2_knownhost_writefile()` (OpenSSH format). */
  writefile(filename: string): void {
    checkString(filename, 'filename');
    this.native.writefile(filename);
  }

  /** `libssh2_knownhost_readline()`: adds the entry of one known_hosts line. */
  readline(line: string): void {
    checkString(line, 'line');
    this.native.readline(line);
  }

  /** `libssh2_knownhost_writeline()`: the known_hosts line of `entry`. */
  writeline(entry: KnownHost): string {
    return this.native.writeline(entry);
  }

  /**
   * `libssh2_knownhost_checkp()`: `key` is the raw host key (e.g. `session.hostkey().key`),
   * `typemask` `LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | <key type>`.
   */
  checkp(host: string, port: number, key: Buffer | string, typemask: number): KnownHostCheck {
    checkString(host, 'host');
    checkInt(port, 'port', -1, 65535);
    checkInt(typemask, 'typemask', 0, 0x7fffffff);
    return this.native.checkp(host, port, toBuffer(key, 'key'), typemask);
  }

  /** `libssh2_knownhost_addc()`: adds an entry and returns it. */
  addc(host: string, key: Buffer | string, typemask: number, salt?: string, comment?: string): KnownHost {
    checkString(host, 'host');
    checkInt(typemask, 'typemask', 0, 0x7fffffff);
    checkOptString(salt, 'salt');
    checkOptString(comment, 'comment');
    return this.native.addc(host, toBuffer(key, 'key'), typemask, salt, comment);
  }

  /** `libssh2_knownhost_get()`: every entry. */
  get(): KnownHost[] {
    return this.native.get();
  }

  /** `libssh2_knownhost_del()`: throws `BadUseError` for an entry no longer in the collection. */
  del(entry: KnownHost): void {
    this.native.del(entry);
  }

  /** `libssh2_knownhost_free()`. Idempotent; also happens on garbage collection. */
  free(): void {
    this.native.free();
  }

  /** `using kh = session.knownhostInit()`. */
  [Symbol.dispose](): void {
    this.free();
  }

  /** `await using` works too. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.free();
  }
}
