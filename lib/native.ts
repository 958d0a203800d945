/**
 * Loads the compiled addon and wires it to the TypeScript side. Internal: the public API is
 * re-exported by index.ts.
 */
import * as path from 'path';
import { isDeepStrictEqual } from 'util';
import { createError } from './errors';

/** What `scpRecv2` reports of the remote file. */
export interface ScpStat {
  size: number;
  mode: number;
  atime: number;
  mtime: number;
}

/** The native half of `Session` (binding/session.cc); lib/session.ts checks arguments first. */
export interface NativeSession {
  state(): {
    closed: boolean; freed: boolean; busy: boolean; fd: number; closeError: unknown; recvIdleMs: number; inCallback: boolean;
    recvCalls: number;
  };
  /** Called (synchronously, from inside the scheduler) when a failure closes the session; held weakly. */
  onClose(handler: () => void): void;
  /** Closes the session with `error`: pending and later ops reject with it. */
  fail(error: Error): void;
  hostkey(): { key: Buffer; type: number } | null;
  hostkeyHash(type: number): Buffer | null;
  methods(type: number): string | null;
  methodPref(type: number, prefs: string): void;
  supportedAlgs(type: number): string[];
  bannerGet(): string | null;
  bannerSet(banner: string): void;
  setTimeout(ms: number): void;
  getTimeout(): number;
  keepaliveConfig(wantReply: boolean, interval: number): void;
  lastError(): { errno: number; code: string | null; message: string };
  lastErrno(): number;
  setLastError(errno: number, message?: string): number;
  blockDirections(): number;
  flag(flag: number, value: number): void;
  trace(bitmask: number, handler?: (line: string) => void): void;
  ref(): void;
  unref(): void;
  userauthAuthenticated(): boolean;
  userauthBanner(): string | null;
  setBlocking(blocking: boolean): void;
  /** lib/nb.ts: the signature of the …Nb() call about to run, or undefined after it. */
  nbCall(signature: unknown[] | undefined): void;
  waitSocket(timeoutMs: number): Promise<boolean>;
  handshake(fd: number): Promise<void>;
  disconnect(description: string, reason: number): Promise<void>;
  /** A Promise; in freeNb() the number 0 or LIBSSH2_ERROR_EAGAIN. */
  free(): Promise<void> | number;
  keepaliveSend(): Promise<number>;
  userauthList(user: string): Promise<string[] | null>;
  userauthPassword(user: string, password: string, onChange?: () => string): Promise<void>;
  userauthPublickeyFromfile(user: string, priv: string, pass?: string, pub?: string): Promise<void>;
  userauthPublickeyFrommemory(user: string, priv: string | Buffer, pass?: string, pub?: string | Buffer): Promise<void>;
  userauthPublickey(user: string, blob: Buffer, sign: (data: Buffer) => Buffer | Promise<Buffer>): Promise<void>;
  userauthKeyboardInteractive(user: string, responder: (...args: never[]) => unknown): Promise<void>;
  userauthHostbasedFromfile(user: string, priv: string, host: string, pass?: string, pub?: string, local?: string): Promise<void>;
  openSession(windowSize?: number, packetSize?: number): Promise<NativeChannel>;
  sftpInit(): Promise<NativeSftp>;
  directTcpip(host: string, port: number, shost: string, sport: number): Promise<NativeChannel>;
  directStreamlocal(path: string, shost: string, sport: number): Promise<NativeChannel>;
  forwardListen(port: number, host?: string, queueMaxsize?: number): Promise<NativeListener>;
  knownhostInit(): NativeKnownHosts;
  agentInit(): NativeAgent;
  publickeyInit(): Promise<NativePublicKey>;
  /** kind 0: auth-agent@openssh.com channels, 1: x11 channels; undefined removes the handler. */
  setChannelHandler(kind: 0 | 1, handler?: (channel: NativeChannel, shost?: string, sport?: number) => void): void;
  scpRecv2(path: string): Promise<{ channel: NativeChannel; stat: ScpStat }>;
  scpSend64(path: string, mode: number, size: number, mtime?: number, atime?: number): Promise<NativeChannel>;
}

/** The native half of `Channel` (binding/channel.cc); lib/channel.ts checks arguments first. */
export interface NativeChannel {
  isFreed(): boolean;
  eof(): boolean;
  getExitStatus(): number | null;
  getExitSignal(): { signal: string | null; message: string | null; lang: string | null };
  windowRead(): { window: number; readAvail: number; windowSizeInitial: number };
  windowWrite(): { window: number; windowSizeInitial: number };
  setenv(name: string, value: string): Promise<void>;
  requestPty(term: string, modes?: Buffer, width?: number, height?: number): Promise<void>;
  requestPtySize(width: number, height: number, widthPx?: number, heightPx?: number): Promise<void>;
  processStartup(request: string, message?: Buffer): Promise<void>;
  x11Req(screen: number, single: boolean, proto?: string, cookie?: string): Promise<void>;
  requestAuthAgent(): Promise<void>;
  signal(name: string): Promise<void>;
  read(size: number, stream: number): Promise<Buffer>;
  readInto(buf: Buffer, stream: number): Promise<number>;
  write(data: Buffer, stream: number): Promise<number>;
  flush(stream: number): Promise<number>;
  sendEof(): Promise<void>;
  waitEof(): Promise<void>;
  close(): Promise<void>;
  waitClosed(): Promise<void>;
  free(): Promise<void>;
  receiveWindowAdjust(adjustment: number, force: boolean): Promise<number>;
  handleExtendedData(mode: number): Promise<void>;
}

/** `LIBSSH2_SFTP_ATTRIBUTES` as the addon returns it. */
export interface NativeAttrs {
  flags: number;
  filesize: number;
  uid: number;
  gid: number;
  permissions: number;
  atime: number;
  mtime: number;
}

/** The native half of `Sftp` (binding/sftp.cc). */
export interface NativeSftp {
  isFreed(): boolean;
  open(path: string, flags: number, mode: number, type: number): Promise<NativeSftpHandle>;
  stat(path: string, type: number): Promise<NativeAttrs>;
  setstat(path: string, attrs: object): Promise<void>;
  statvfs(path: string): Promise<import('./sftp').SftpStatVfs>;
  mkdir(path: string, mode: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(src: string, dst: string, flags: number): Promise<void>;
  posixRename(src: string, dst: string): Promise<void>;
  symlink(path: string, target: string | undefined, type: number): Promise<string | undefined>;
  lastError(): number;
  shutdown(): Promise<void>;
}

/** The native half of `SftpHandle` (binding/sftp_handle.cc). */
export interface NativeSftpHandle {
  isFreed(): boolean;
  read(size: number): Promise<Buffer>;
  readInto(buf: Buffer): Promise<number>;
  write(data: Buffer): Promise<number>;
  readdir(): Promise<[string, NativeAttrs, string] | null>;
  fstat(): Promise<NativeAttrs>;
  fsetstat(attrs: object): Promise<void>;
  fstatvfs(): Promise<import('./sftp').SftpStatVfs>;
  fsync(): Promise<void>;
  seek64(offset: number): void;
  tell64(): number;
  rewind(): void;
  close(): Promise<void>;
}

/** The native half of `Listener` (binding/listener.cc). */
export interface NativeListener {
  boundPort: number;
  isFreed(): boolean;
  forwardAccept(): Promise<NativeChannel>;
  forwardCancel(): Promise<void>;
}

/** The native half of `KnownHosts` (binding/knownhost.cc). */
export interface NativeKnownHosts {
  readfile(file: string): number;
  writefile(file: string): void;
  readline(line: string): void;
  writeline(entry: object): string;
  checkp(host: string, port: number, key: Buffer, typemask: number): import('./knownhost').KnownHostCheck;
  addc(host: string, key: Buffer, typemask: number, salt?: string, comment?: string): import('./knownhost').KnownHost;
  get(): import('./knownhost').KnownHost[];
  del(entry: object): void;
  free(): void;
}

/** The native half of `Agent` (binding/agent.cc). */
export interface NativeAgent {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listIdentities(): Promise<void>;
  getIdentities(): import('./agent').AgentIdentity[];
  userauth(user: string, identity: object): Promise<void>;
  sign(identity: object, data: Buffer, method?: string): Promise<Buffer>;
  getIdentityPath(): string | null;
  setIdentityPath(path?: string): void;
  free(): void;
}

/** The native half of `PublicKeySubsystem` (binding/publickey.cc). */
export interface NativePublicKey {
  isFreed(): boolean;
  listFetch(): Promise<import('./publickey').PublicKeyEntry[]>;
  add(name: string, blob: Buffer, overwrite: boolean, attrs: import('./publickey').PublicKeyAttribute[]): Promise<void>;
  remove(name: string, blob: Buffer): Promise<void>;
  shutdown(): Promise<void>;
}

/** The functions and classes the addon exports (grows with each native class). */
export interface NativeAddon {
  Session: new () => NativeSession;
  connect(ip: string, port: number, timeoutMs?: number): Promise<number>;
  socketpair(): [number, number];
  closeFd(fd: number): void;
  version(): string;
  cryptoBackend(): { engine: string; library: string };
  setErrorFactory(factory: typeof createError, deepEqual: (a: unknown, b: unknown) => boolean): void;
  makeError(errno: number, fn?: string, sftpStatus?: number): Error;
  constantsTable(): Record<string, number | string>;
}

/**
 * Where the addon is: `LIBSSH2_NODE_ADDON` when set (tests, the ASan build), else what
 * node-gyp-build finds: build/Release, build/Debug, then the prebuild for this platform in
 * prebuilds/ (shipped in the npm package).
 */
function load(): NativeAddon {
  const override = process.env.LIBSSH2_NODE_ADDON;
  let file: string;
  if (override) {
    file = path.resolve(override);
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    try {
      file = nodeGypBuild.resolve(path.join(__dirname, '..'));
    } catch (e) {
      throw new Error(
        'libssh2: no native addon for this platform: no prebuild matches and none was built. ' +
          'Build it from the shipped libssh2 source with `npm rebuild libssh2` (needs a C++ compiler, make and ' +
          'python3; where npm blocks dependency install scripts, `npm install-scripts approve libssh2` first). ' +
          (e as Error).message,
        { cause: e },
      );
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as NativeAddon;
}

/** The addon, loaded once per module instance (per thread: the addon is context-aware). */
export const native: NativeAddon = load();
native.setErrorFactory(createError, isDeepStrictEqual);
