/**
 * libssh2 for Node.js: libssh2's C API one-to-one as TypeScript classes, plus a small
 * Node-native layer.
 */
import { native } from './native';
import * as constants from './constants';
import * as errors from './errors';

export * from './constants';
export * from './errors';
export { constants, errors };
export { Session } from './session';
export { Channel } from './channel';
export { Listener } from './listener';
export { KnownHosts } from './knownhost';
export { Agent } from './agent';
export type { AgentIdentity } from './agent';
export { PublicKeySubsystem } from './publickey';
export type { PublicKeyEntry, PublicKeyAttribute } from './publickey';
export type { X11Handler } from './session';
export type { ChannelStream } from './stream';
export type { RemoteForward } from './forward';
export type { ExecOptions, ExecResult, SpawnOptions, ShellOptions, PtyOptions } from './exec';
export { RemoteProcess } from './exec';
export { connect, DEFAULT_ALGORITHMS } from './connect';
export type { ConnectOptions, Algorithms, HostKeyInfo, JumpHost } from './connect';
export type { SessionEvents } from './session';
export { parseKnownHosts, checkHostKey } from './knownhosts';
export type { KnownHostsLine, HostKeyStatus } from './knownhosts';
export type { KnownHost, KnownHostCheck } from './knownhost';
export type { ExitSignal } from './channel';
export type { Nb, NbResult } from './nb';
export { Sftp, SftpHandle, SftpAttributes } from './sftp';
export type { SftpStatVfs, SftpDirEntry, SftpAttributesInput } from './sftp';
export type { TransferOptions, ListEntry, ReadStreamOptions, WriteStreamOptions } from './transfer';
export type { Transport, KbdPrompt, KbdResponder, SignCallback } from './session';
export type { ScpStat } from './native';

/** `libssh2_version(0)`: the version of the libssh2 compiled into the addon, e.g. `'1.11.1'`. */
export function version(): string {
  return native.version();
}

/**
 * The crypto backend: `libssh2_crypto_engine()` (`'openssl'`) and the OpenSSL library the
 * addon resolved its symbols to (the running Node's own).
 */
export function cryptoBackend(): { engine: string; library: string } {
  return native.cryptoBackend();
}
