/**
 * `PublicKeySubsystem`: the RFC 4819 "publickey" subsystem (`LIBSSH2_PUBLICKEY`,
 * `libssh2_publickey_*`): list, add and remove the public keys the server accepts for the user.
 * OpenSSH does not implement it (LIBSSH2-PITFALLS.md item 39); some commercial servers do.
 */
import type { Session } from './session';
import type { NativePublicKey } from './native';
import { badUse, checkString, toBuffer } from './check';
import { installNb, runOp, type Nb } from './nb';

/** An attribute of a public key (`libssh2_publickey_attribute`), e.g. `{ name: 'comment', ... }`. */
export interface PublicKeyAttribute {
  name: string;
  value: string;
  /**
   * Whether the server must understand the attribute to accept the key (sent by `add()`).
   * libssh2 does not read it from list replies: always false in `list()` results.
   */
  mandatory: boolean;
}

/** A key of `list()` (`libssh2_publickey_list`). */
export interface PublicKeyEntry {
  /** The key algorithm name, e.g. 'ssh-ed25519'. */
  name: string;
  /** The public key blob (SSH wire format). */
  blob: Buffer;
  attrs: PublicKeyAttribute[];
}

/**
 * The publickey subsystem of a session, from `await session.publickeyInit()`. Its calls run one
 * at a time in call order; it keeps its session alive.
 */
export class PublicKeySubsystem {
  /** @internal */
  readonly native: NativePublicKey;
  /** The session this subsystem runs on. */
  readonly session: Session;

  // ---- non-blocking twins (lib/nb.ts): one attempt, the value or LIBSSH2_ERROR_EAGAIN ----------

  /** Non-blocking {@link PublicKeySubsystem.list}: one attempt; its value or `LIBSSH2_ERROR_EAGAIN`. */
  declare listNb: Nb<PublicKeySubsystem['list']>;
  /** Non-blocking {@link PublicKeySubsystem.add}: one attempt; 0 or `LIBSSH2_ERROR_EAGAIN`. */
  declare addNb: Nb<PublicKeySubsystem['add']>;
  /** Non-blocking {@link PublicKeySubsystem.remove}: one attempt; 0 or `LIBSSH2_ERROR_EAGAIN`. */
  declare removeNb: Nb<PublicKeySubsystem['remove']>;
  /** Non-blocking {@link PublicKeySubsystem.shutdown}: one attempt; 0 or `LIBSSH2_ERROR_EAGAIN`. */
  declare shutdownNb: Nb<PublicKeySubsystem['shutdown']>;

  /** @internal PublicKeySubsystem objects come from `session.publickeyInit()`. */
  constructor(session: Session, native: NativePublicKey) {
    this.session = session;
    this.native = native;
  }

  /** A one-to-one op: async, or one attempt inside its `…Nb()` twin (lib/nb.ts). */
  #run<T>(fn: string, body: () => Promise<T>): Promise<T> {
    return runOp(this.session, fn, () => {
      if (this.native.isFreed()) throw badUse('the publickey subsystem has been shut down', fn);
    }, body);
  }

  /** `libssh2_publickey_list_fetch()` (and `libssh2_publickey_list_free()`): the server's keys. */
  list(): Promise<PublicKeyEntry[]> {
    return this.#run('libssh2_publickey_list_fetch', () => this.native.listFetch());
  }

  /**
   * `libssh2_publickey_add_ex()`: adds a key (`name` is its algorithm, e.g. 'ssh-ed25519');
   * `overwrite` replaces an existing entry. A refusal rejects with `PublickeyProtocolError`
   * carrying the server's status text (e.g. "Key already exists").
   */
  add(name: string, blob: Buffer | Uint8Array, overwrite = false, attrs: PublicKeyAttribute[] = []): Promise<void> {
    return this.#run('libssh2_publickey_add_ex', () => {
      checkString(name, 'name');
      const b = toBuffer(blob, 'blob');
      if (!Array.isArray(attrs)) throw new TypeError('attrs must be an array');
      for (const a of attrs) {
        if (typeof a !== 'object' || a === null) throw new TypeError('attrs must be objects { name, value, mandatory }');
        checkString(a.name, 'attribute name');
        checkString(a.value, 'attribute value');
      }
      return this.native.add(name, b, !!overwrite, attrs.map((a) => ({ name: a.name, value: a.value, mandatory: !!a.mandatory })));
    });
  }

  /** `libssh2_publickey_remove_ex()`: removes a key. */
  remove(name: string, blob: Buffer | Uint8Array): Promise<void> {
    return this.#run('libssh2_publickey_remove_ex', () => {
      checkString(name, 'name');
      return this.native.remove(name, toBuffer(blob, 'blob'));
    });
  }

  /**
   * `libssh2_publickey_shutdown()`: after the calls already queued, closes and frees the
   * subsystem's channel. Idempotent; also happens on garbage collection.
   */
  shutdown(): Promise<void> {
    return runOp(this.session, 'libssh2_publickey_shutdown', () => undefined, () => this.native.shutdown(), undefined, true);
  }

  /** `await using pk = await session.publickeyInit()`: shut down on scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}

/** The `…Nb()` twins of the subsystem's methods. */
export const PUBLICKEY_NB_METHODS = ['list', 'add', 'remove', 'shutdown'] as const;
installNb(PublicKeySubsystem, PUBLICKEY_NB_METHODS, (p) => p.session);
