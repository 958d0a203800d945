/**
 * The error classes: one per libssh2 error code, grouped in families, and one per non-OK SFTP
 * status. Defined in TypeScript, so `instanceof` works wherever the module is loaded; the native
 * layer builds every error through {@link createError}.
 */

/** Base class of every error that carries a libssh2 error code. */
export class Libssh2Error extends Error {
  /** The libssh2 error code of this class (`LIBSSH2_ERROR_*`, negative). */
  static readonly errno: number = 0;
  /** The C name of the error code, e.g. `'LIBSSH2_ERROR_AUTHENTICATION_FAILED'`. */
  static readonly code: string = '';
  /** The libssh2 error code (`LIBSSH2_ERROR_*`). */
  readonly errno: number;
  /** The C name of the error code. */
  readonly code: string;
  /** The libssh2 function that failed, e.g. `'libssh2_userauth_password_ex'`. */
  readonly fn: string | undefined;

  constructor(message: string, fn?: string) {
    super(message);
    const cls = new.target;
    this.name = cls.name;
    this.errno = cls.errno;
    this.code = cls.code;
    this.fn = fn;
  }
}

/** The transport failed: socket, banner, key exchange, encryption, MAC, protocol. */
export abstract class ConnectionError extends Libssh2Error {}
/** Authentication failed or could not be attempted (keys, files, agent). */
export abstract class AuthError extends Libssh2Error {}
/** A channel (or SCP on it) failed or was refused. */
export abstract class ChannelError extends Libssh2Error {}

/**
 * `LIBSSH2_ERROR_SFTP_PROTOCOL` (-31): the SFTP server answered with a non-OK status (a subclass
 * per status), or, with status `LIBSSH2_FX_OK`, the local SFTP state went out of sync.
 */
export class SftpProtocolError extends Libssh2Error {
  static override readonly errno: number = -31;
  static override readonly code: string = 'LIBSSH2_ERROR_SFTP_PROTOCOL';
  /** The SFTP status of this class (`LIBSSH2_FX_*`). */
  static readonly status: number = 0;
  /** The C name of the status, e.g. `'LIBSSH2_FX_NO_SUCH_FILE'`. */
  static readonly statusName: string = 'LIBSSH2_FX_OK';
  /** The SFTP status code (`libssh2_sftp_last_error`). */
  readonly status: number;
  /** The C name of the status. */
  readonly statusName: string;

  constructor(message: string, fn?: string, status?: number) {
    super(message, fn);
    const cls = new.target;
    this.status = status ?? cls.status;
    this.statusName = statusNames.get(this.status) ?? `LIBSSH2_FX_${this.status}`;
  }
}

// ---- ConnectionError
/** `LIBSSH2_ERROR_SOCKET_NONE` (-1). */
export class SocketNoneError extends ConnectionError { static override readonly errno = -1; static override readonly code = 'LIBSSH2_ERROR_SOCKET_NONE'; }
/** `LIBSSH2_ERROR_BANNER_RECV` (-2), also `LIBSSH2_ERROR_BANNER_NONE`. */
export class BannerRecvError extends ConnectionError { static override readonly errno = -2; static override readonly code = 'LIBSSH2_ERROR_BANNER_RECV'; }
/** `LIBSSH2_ERROR_BANNER_SEND` (-3). */
export class BannerSendError extends ConnectionError { static override readonly errno = -3; static override readonly code = 'LIBSSH2_ERROR_BANNER_SEND'; }
/** `LIBSSH2_ERROR_INVALID_MAC` (-4). */
export class InvalidMacError extends ConnectionError { static override readonly errno = -4; static override readonly code = 'LIBSSH2_ERROR_INVALID_MAC'; }
/** `LIBSSH2_ERROR_KEX_FAILURE` (-5). */
export class KexFailureError extends ConnectionError { static override readonly errno = -5; static override readonly code = 'LIBSSH2_ERROR_KEX_FAILURE'; }
/** `LIBSSH2_ERROR_SOCKET_SEND` (-7). */
export class SocketSendError extends ConnectionError { static override readonly errno = -7; static override readonly code = 'LIBSSH2_ERROR_SOCKET_SEND'; }
/** `LIBSSH2_ERROR_SOCKET_RECV` (-43). */
export class SocketRecvError extends ConnectionError { static override readonly errno = -43; static override readonly code = 'LIBSSH2_ERROR_SOCKET_RECV'; }
/** `LIBSSH2_ERROR_SOCKET_DISCONNECT` (-13). */
export class SocketDisconnectError extends ConnectionError { static override readonly errno = -13; static override readonly code = 'LIBSSH2_ERROR_SOCKET_DISCONNECT'; }
/** `LIBSSH2_ERROR_SOCKET_TIMEOUT` (-30). */
export class SocketTimeoutError extends ConnectionError { static override readonly errno = -30; static override readonly code = 'LIBSSH2_ERROR_SOCKET_TIMEOUT'; }
/** `LIBSSH2_ERROR_PROTO` (-14). */
export class ProtoError extends ConnectionError { static override readonly errno = -14; static override readonly code = 'LIBSSH2_ERROR_PROTO'; }
/** `LIBSSH2_ERROR_ENCRYPT` (-44). */
export class EncryptError extends ConnectionError { static override readonly errno = -44; static override readonly code = 'LIBSSH2_ERROR_ENCRYPT'; }
/** `LIBSSH2_ERROR_DECRYPT` (-12). */
export class DecryptError extends ConnectionError { static override readonly errno = -12; static override readonly code = 'LIBSSH2_ERROR_DECRYPT'; }
/** `LIBSSH2_ERROR_MAC_FAILURE` (-52). */
export class MacFailureError extends ConnectionError { static override readonly errno = -52; static override readonly code = 'LIBSSH2_ERROR_MAC_FAILURE'; }
/** `LIBSSH2_ERROR_HOSTKEY_INIT` (-10). */
export class HostkeyInitError extends ConnectionError { static override readonly errno = -10; static override readonly code = 'LIBSSH2_ERROR_HOSTKEY_INIT'; }
/** `LIBSSH2_ERROR_HOSTKEY_SIGN` (-11). */
export class HostkeySignError extends ConnectionError { static override readonly errno = -11; static override readonly code = 'LIBSSH2_ERROR_HOSTKEY_SIGN'; }
/** `LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE` (-8). */
export class KeyExchangeFailureError extends ConnectionError { static override readonly errno = -8; static override readonly code = 'LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE'; }
/** `LIBSSH2_ERROR_RANDGEN` (-49). */
export class RandgenError extends ConnectionError { static override readonly errno = -49; static override readonly code = 'LIBSSH2_ERROR_RANDGEN'; }
/** `LIBSSH2_ERROR_ALGO_UNSUPPORTED` (-51). */
export class AlgoUnsupportedError extends ConnectionError { static override readonly errno = -51; static override readonly code = 'LIBSSH2_ERROR_ALGO_UNSUPPORTED'; }
/** `LIBSSH2_ERROR_BAD_SOCKET` (-45). */
export class BadSocketError extends ConnectionError { static override readonly errno = -45; static override readonly code = 'LIBSSH2_ERROR_BAD_SOCKET'; }

// ---- AuthError
/** `LIBSSH2_ERROR_AUTHENTICATION_FAILED` (-18), also `LIBSSH2_ERROR_PUBLICKEY_UNRECOGNIZED`. */
export class AuthenticationFailedError extends AuthError { static override readonly errno = -18; static override readonly code = 'LIBSSH2_ERROR_AUTHENTICATION_FAILED'; }
/** `LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED` (-19). */
export class PublickeyUnverifiedError extends AuthError { static override readonly errno = -19; static override readonly code = 'LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED'; }
/** `LIBSSH2_ERROR_PASSWORD_EXPIRED` (-15). */
export class PasswordExpiredError extends AuthError { static override readonly errno = -15; static override readonly code = 'LIBSSH2_ERROR_PASSWORD_EXPIRED'; }
/** `LIBSSH2_ERROR_KEYFILE_AUTH_FAILED` (-48). */
export class KeyfileAuthFailedError extends AuthError { static override readonly errno = -48; static override readonly code = 'LIBSSH2_ERROR_KEYFILE_AUTH_FAILED'; }
/** `LIBSSH2_ERROR_FILE` (-16). */
export class FileError extends AuthError { static override readonly errno = -16; static override readonly code = 'LIBSSH2_ERROR_FILE'; }
/** `LIBSSH2_ERROR_AGENT_PROTOCOL` (-42). */
export class AgentProtocolError extends AuthError { static override readonly errno = -42; static override readonly code = 'LIBSSH2_ERROR_AGENT_PROTOCOL'; }
/** `LIBSSH2_ERROR_MISSING_USERAUTH_BANNER` (-50). */
export class MissingUserauthBannerError extends AuthError { static override readonly errno = -50; static override readonly code = 'LIBSSH2_ERROR_MISSING_USERAUTH_BANNER'; }

// ---- ChannelError
/** `LIBSSH2_ERROR_CHANNEL_FAILURE` (-21). */
export class ChannelFailureError extends ChannelError { static override readonly errno = -21; static override readonly code = 'LIBSSH2_ERROR_CHANNEL_FAILURE'; }
/** `LIBSSH2_ERROR_CHANNEL_UNKNOWN` (-23). */
export class ChannelUnknownError extends ChannelError { static override readonly errno = -23; static override readonly code = 'LIBSSH2_ERROR_CHANNEL_UNKNOWN'; }
/** `LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED` (-24). */
export class ChannelWindowExceededError extends ChannelError { static override readonly errno = -24; static override readonly code = 'LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED'; }
/** `LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED` (-25). */
export class ChannelPacketExceededError extends ChannelError { static override readonly errno = -25; static override readonly code = 'LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED'; }
/** `LIBSSH2_ERROR_CHANNEL_CLOSED` (-26). */
export class ChannelClosedError extends ChannelError { static override readonly errno = -26; static override readonly code = 'LIBSSH2_ERROR_CHANNEL_CLOSED'; }
/** `LIBSSH2_ERROR_CHANNEL_EOF_SENT` (-27). */
export class ChannelEofSentError extends ChannelError { static override readonly errno = -27; static override readonly code = 'LIBSSH2_ERROR_CHANNEL_EOF_SENT'; }
/** `LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED` (-22). */
export class ChannelRequestDeniedError extends ChannelError { static override readonly errno = -22; static override readonly code = 'LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED'; }
/** `LIBSSH2_ERROR_CHANNEL_OUTOFORDER` (-20). */
export class ChannelOutoforderError extends ChannelError { static override readonly errno = -20; static override readonly code = 'LIBSSH2_ERROR_CHANNEL_OUTOFORDER'; }
/** `LIBSSH2_ERROR_CHANNEL_WINDOW_FULL` (-47). */
export class ChannelWindowFullError extends ChannelError { static override readonly errno = -47; static override readonly code = 'LIBSSH2_ERROR_CHANNEL_WINDOW_FULL'; }
/** `LIBSSH2_ERROR_REQUEST_DENIED` (-32). */
export class RequestDeniedError extends ChannelError { static override readonly errno = -32; static override readonly code = 'LIBSSH2_ERROR_REQUEST_DENIED'; }
/** `LIBSSH2_ERROR_SCP_PROTOCOL` (-28). */
export class ScpProtocolError extends ChannelError { static override readonly errno = -28; static override readonly code = 'LIBSSH2_ERROR_SCP_PROTOCOL'; }

// ---- No family
/** `LIBSSH2_ERROR_TIMEOUT` (-9). */
export class TimeoutError extends Libssh2Error { static override readonly errno = -9; static override readonly code = 'LIBSSH2_ERROR_TIMEOUT'; }
/** `LIBSSH2_ERROR_ALLOC` (-6). */
export class AllocError extends Libssh2Error { static override readonly errno = -6; static override readonly code = 'LIBSSH2_ERROR_ALLOC'; }
/** `LIBSSH2_ERROR_INVAL` (-34). */
export class InvalError extends Libssh2Error { static override readonly errno = -34; static override readonly code = 'LIBSSH2_ERROR_INVAL'; }
/** `LIBSSH2_ERROR_BAD_USE` (-39). */
export class BadUseError extends Libssh2Error { static override readonly errno = -39; static override readonly code = 'LIBSSH2_ERROR_BAD_USE'; }
/** `LIBSSH2_ERROR_METHOD_NOT_SUPPORTED` (-33). */
export class MethodNotSupportedError extends Libssh2Error { static override readonly errno = -33; static override readonly code = 'LIBSSH2_ERROR_METHOD_NOT_SUPPORTED'; }
/** `LIBSSH2_ERROR_METHOD_NONE` (-17). */
export class MethodNoneError extends Libssh2Error { static override readonly errno = -17; static override readonly code = 'LIBSSH2_ERROR_METHOD_NONE'; }
/** `LIBSSH2_ERROR_ZLIB` (-29). */
export class ZlibError extends Libssh2Error { static override readonly errno = -29; static override readonly code = 'LIBSSH2_ERROR_ZLIB'; }
/** `LIBSSH2_ERROR_EAGAIN` (-37). */
export class EagainError extends Libssh2Error { static override readonly errno = -37; static override readonly code = 'LIBSSH2_ERROR_EAGAIN'; }
/** `LIBSSH2_ERROR_BUFFER_TOO_SMALL` (-38). */
export class BufferTooSmallError extends Libssh2Error { static override readonly errno = -38; static override readonly code = 'LIBSSH2_ERROR_BUFFER_TOO_SMALL'; }
/** `LIBSSH2_ERROR_COMPRESS` (-40). */
export class CompressError extends Libssh2Error { static override readonly errno = -40; static override readonly code = 'LIBSSH2_ERROR_COMPRESS'; }
/** `LIBSSH2_ERROR_OUT_OF_BOUNDARY` (-41). */
export class OutOfBoundaryError extends Libssh2Error { static override readonly errno = -41; static override readonly code = 'LIBSSH2_ERROR_OUT_OF_BOUNDARY'; }
/** `LIBSSH2_ERROR_KNOWN_HOSTS` (-46). */
export class KnownHostsError extends Libssh2Error { static override readonly errno = -46; static override readonly code = 'LIBSSH2_ERROR_KNOWN_HOSTS'; }
/** `LIBSSH2_ERROR_PUBLICKEY_PROTOCOL` (-36). */
export class PublickeyProtocolError extends Libssh2Error { static override readonly errno = -36; static override readonly code = 'LIBSSH2_ERROR_PUBLICKEY_PROTOCOL'; }
/** `LIBSSH2_ERROR_INVALID_POLL_TYPE` (-35). */
export class InvalidPollTypeError extends Libssh2Error { static override readonly errno = -35; static override readonly code = 'LIBSSH2_ERROR_INVALID_POLL_TYPE'; }
/** `LIBSSH2_ERROR_HASH_INIT` (-53). */
export class HashInitError extends Libssh2Error { static override readonly errno = -53; static override readonly code = 'LIBSSH2_ERROR_HASH_INIT'; }
/** `LIBSSH2_ERROR_HASH_CALC` (-54). */
export class HashCalcError extends Libssh2Error { static override readonly errno = -54; static override readonly code = 'LIBSSH2_ERROR_HASH_CALC'; }

// ---- SFTP status
/** `LIBSSH2_FX_EOF` (1). */
export class SftpEofError extends SftpProtocolError { static override readonly status = 1; static override readonly statusName = 'LIBSSH2_FX_EOF'; }
/** `LIBSSH2_FX_NO_SUCH_FILE` (2). */
export class SftpNoSuchFileError extends SftpProtocolError { static override readonly status = 2; static override readonly statusName = 'LIBSSH2_FX_NO_SUCH_FILE'; }
/** `LIBSSH2_FX_PERMISSION_DENIED` (3). */
export class SftpPermissionDeniedError extends SftpProtocolError { static override readonly status = 3; static override readonly statusName = 'LIBSSH2_FX_PERMISSION_DENIED'; }
/** `LIBSSH2_FX_FAILURE` (4). */
export class SftpFailureError extends SftpProtocolError { static override readonly status = 4; static override readonly statusName = 'LIBSSH2_FX_FAILURE'; }
/** `LIBSSH2_FX_BAD_MESSAGE` (5). */
export class SftpBadMessageError extends SftpProtocolError { static override readonly status = 5; static override readonly statusName = 'LIBSSH2_FX_BAD_MESSAGE'; }
/** `LIBSSH2_FX_NO_CONNECTION` (6). */
export class SftpNoConnectionError extends SftpProtocolError { static override readonly status = 6; static override readonly statusName = 'LIBSSH2_FX_NO_CONNECTION'; }
/** `LIBSSH2_FX_CONNECTION_LOST` (7). */
export class SftpConnectionLostError extends SftpProtocolError { static override readonly status = 7; static override readonly statusName = 'LIBSSH2_FX_CONNECTION_LOST'; }
/** `LIBSSH2_FX_OP_UNSUPPORTED` (8). */
export class SftpOpUnsupportedError extends SftpProtocolError { static override readonly status = 8; static override readonly statusName = 'LIBSSH2_FX_OP_UNSUPPORTED'; }
/** `LIBSSH2_FX_INVALID_HANDLE` (9). */
export class SftpInvalidHandleError extends SftpProtocolError { static override readonly status = 9; static override readonly statusName = 'LIBSSH2_FX_INVALID_HANDLE'; }
/** `LIBSSH2_FX_NO_SUCH_PATH` (10). */
export class SftpNoSuchPathError extends SftpProtocolError { static override readonly status = 10; static override readonly statusName = 'LIBSSH2_FX_NO_SUCH_PATH'; }
/** `LIBSSH2_FX_FILE_ALREADY_EXISTS` (11). */
export class SftpFileAlreadyExistsError extends SftpProtocolError { static override readonly status = 11; static override readonly statusName = 'LIBSSH2_FX_FILE_ALREADY_EXISTS'; }
/** `LIBSSH2_FX_WRITE_PROTECT` (12). */
export class SftpWriteProtectError extends SftpProtocolError { static override readonly status = 12; static override readonly statusName = 'LIBSSH2_FX_WRITE_PROTECT'; }
/** `LIBSSH2_FX_NO_MEDIA` (13). */
export class SftpNoMediaError extends SftpProtocolError { static override readonly status = 13; static override readonly statusName = 'LIBSSH2_FX_NO_MEDIA'; }
/** `LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM` (14). */
export class SftpNoSpaceOnFilesystemError extends SftpProtocolError { static override readonly status = 14; static override readonly statusName = 'LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM'; }
/** `LIBSSH2_FX_QUOTA_EXCEEDED` (15). */
export class SftpQuotaExceededError extends SftpProtocolError { static override readonly status = 15; static override readonly statusName = 'LIBSSH2_FX_QUOTA_EXCEEDED'; }
/** `LIBSSH2_FX_UNKNOWN_PRINCIPAL` (16). */
export class SftpUnknownPrincipalError extends SftpProtocolError { static override readonly status = 16; static override readonly statusName = 'LIBSSH2_FX_UNKNOWN_PRINCIPAL'; }
/** `LIBSSH2_FX_LOCK_CONFLICT` (17). */
export class SftpLockConflictError extends SftpProtocolError { static override readonly status = 17; static override readonly statusName = 'LIBSSH2_FX_LOCK_CONFLICT'; }
/** `LIBSSH2_FX_DIR_NOT_EMPTY` (18). */
export class SftpDirNotEmptyError extends SftpProtocolError { static override readonly status = 18; static override readonly statusName = 'LIBSSH2_FX_DIR_NOT_EMPTY'; }
/** `LIBSSH2_FX_NOT_A_DIRECTORY` (19). */
export class SftpNotADirectoryError extends SftpProtocolError { static override readonly status = 19; static override readonly statusName = 'LIBSSH2_FX_NOT_A_DIRECTORY'; }
/** `LIBSSH2_FX_INVALID_FILENAME` (20). */
export class SftpInvalidFilenameError extends SftpProtocolError { static override readonly status = 20; static override readonly statusName = 'LIBSSH2_FX_INVALID_FILENAME'; }
/** `LIBSSH2_FX_LINK_LOOP` (21). */
export class SftpLinkLoopError extends SftpProtocolError { static override readonly status = 21; static override readonly statusName = 'LIBSSH2_FX_LINK_LOOP'; }

/** Aliases: codes that share a value share a class. */
export const PublickeyUnrecognizedError = AuthenticationFailedError;
/** `LIBSSH2_ERROR_PUBLICKEY_UNRECOGNIZED` (-18) is `LIBSSH2_ERROR_AUTHENTICATION_FAILED`: the same class. */
export type PublickeyUnrecognizedError = AuthenticationFailedError;
/** `LIBSSH2_ERROR_BANNER_NONE` (-2) is `LIBSSH2_ERROR_BANNER_RECV`: the same class. */
export const BannerNoneError = BannerRecvError;
/** `LIBSSH2_ERROR_BANNER_NONE` (-2) is `LIBSSH2_ERROR_BANNER_RECV`: the same class. */
export type BannerNoneError = BannerRecvError;
/** `LIBSSH2_FX_UNKNOWN_PRINCIPLE` (16, libssh2's spelling) is `LIBSSH2_FX_UNKNOWN_PRINCIPAL`: the same class. */
export const SftpUnknownPrincipleError = SftpUnknownPrincipalError;
/** `LIBSSH2_FX_UNKNOWN_PRINCIPLE` (16, libssh2's spelling) is `LIBSSH2_FX_UNKNOWN_PRINCIPAL`: the same class. */
export type SftpUnknownPrincipleError = SftpUnknownPrincipalError;

/** A class with a libssh2 error code. */
export type Libssh2ErrorClass = (new (message: string, fn?: string) => Libssh2Error) & { errno: number; code: string };
/** A class with an SFTP status. */
export type SftpErrorClass = (new (message: string, fn?: string, status?: number) => SftpProtocolError) & { status: number; statusName: string };

const leafClasses: Libssh2ErrorClass[] = [
  SocketNoneError, BannerRecvError, BannerSendError, InvalidMacError, KexFailureError, SocketSendError,
  SocketRecvError, SocketDisconnectError, SocketTimeoutError, ProtoError, EncryptError, DecryptError,
  MacFailureError, HostkeyInitError, HostkeySignError, KeyExchangeFailureError, RandgenError,
  AlgoUnsupportedError, BadSocketError,
  AuthenticationFailedError, PublickeyUnverifiedError, PasswordExpiredError, KeyfileAuthFailedError,
  FileError, AgentProtocolError, MissingUserauthBannerError,
  ChannelFailureError, ChannelUnknownError, ChannelWindowExceededError, ChannelPacketExceededError,
  ChannelClosedError, ChannelEofSentError, ChannelRequestDeniedError, ChannelOutoforderError,
  ChannelWindowFullError, RequestDeniedError, ScpProtocolError,
  TimeoutError, AllocError, InvalError, BadUseError, MethodNotSupportedError, MethodNoneError, ZlibError,
  EagainError, BufferTooSmallError, CompressError, OutOfBoundaryError, KnownHostsError,
  PublickeyProtocolError, InvalidPollTypeError, HashInitError, HashCalcError,
  SftpProtocolError,
];
const sftpClasses: SftpErrorClass[] = [
  SftpEofError, SftpNoSuchFileError, SftpPermissionDeniedError, SftpFailureError, SftpBadMessageError,
  SftpNoConnectionError, SftpConnectionLostError, SftpOpUnsupportedError, SftpInvalidHandleError,
  SftpNoSuchPathError, SftpFileAlreadyExistsError, SftpWriteProtectError, SftpNoMediaError,
  SftpNoSpaceOnFilesystemError, SftpQuotaExceededError, SftpUnknownPrincipalError, SftpLockConflictError,
  SftpDirNotEmptyError, SftpNotADirectoryError, SftpInvalidFilenameError, SftpLinkLoopError,
];

/** errno → class. */
export const errorClasses: ReadonlyMap<number, Libssh2ErrorClass> = new Map(leafClasses.map((c) => [c.errno, c]));
/** SFTP status → class. */
export const sftpErrorClasses: ReadonlyMap<number, SftpErrorClass> = new Map(sftpClasses.map((c) => [c.status, c]));
const statusNames = new Map<number, string>([[0, 'LIBSSH2_FX_OK'], ...sftpClasses.map((c) => [c.status, c.statusName] as [number, string])]);

/** An error code this module has no class for (a newer libssh2): still a Libssh2Error. */
class UnknownLibssh2Error extends Libssh2Error {
  override readonly errno: number;
  override readonly code: string;
  constructor(message: string, fn: string | undefined, errno: number) {
    super(message, fn);
    this.errno = errno;
    this.code = `LIBSSH2_ERROR_${-errno}`;
  }
}

/**
 * Builds the error for a libssh2 return code: the class of `errno` (for
 * `LIBSSH2_ERROR_SFTP_PROTOCOL`, the class of `sftpStatus`), with libssh2's message and the
 * name of the failed function. The native layer calls this for every failure.
 */
export function createError(errno: number, fn?: string, message?: string, sftpStatus?: number): Libssh2Error {
  const text = message || `${fn ?? 'libssh2'} failed`;
  if (errno === SftpProtocolError.errno) {
    const cls = sftpStatus === undefined ? undefined : sftpErrorClasses.get(sftpStatus);
    return cls ? new cls(text, fn) : new SftpProtocolError(text, fn, sftpStatus ?? 0);
  }
  const cls = errorClasses.get(errno);
  return cls ? new cls(text, fn) : new UnknownLibssh2Error(text, fn, errno);
}

/**
 * The Node-native layer's host-key verdicts (`connect()`): not libssh2 codes (`errno` is
 * undefined). `fingerprint` is the SHA256 fingerprint as OpenSSH prints it.
 */
export abstract class HostKeyError extends Error {
  readonly errno: undefined = undefined;
  constructor(message: string, readonly host: string, readonly port: number, readonly keyType: string,
    readonly fingerprint: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** The host is not in the known_hosts files (and neither `hostVerifier` nor `acceptNew` took it). */
export class HostKeyUnknownError extends HostKeyError {}
/** known_hosts holds another key of this type for the host: possibly a man in the middle. */
export class HostKeyMismatchError extends HostKeyError {}
/** The key is marked `@revoked` in known_hosts. */
export class HostKeyRevokedError extends HostKeyError {}
