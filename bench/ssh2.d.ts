/**
 * The little of the `ssh2` npm package (a devDependency, used only by the benchmarks) that
 * bench/clients.ts calls; it ships no types.
 */
declare module 'ssh2' {
  import type { EventEmitter } from 'node:events';
  import type { Duplex, Readable } from 'node:stream';

  export interface Negotiated {
    kex: string;
    /** The README says srvHostKey; 1.17.0 sets serverHostKey. */
    serverHostKey?: string;
    srvHostKey?: string;
    cs: { cipher: string; mac: string; compress: string };
    sc: { cipher: string; mac: string; compress: string };
  }

  export interface ConnectConfig {
    host?: string;
    port?: number;
    username?: string;
    privateKey?: Buffer | string;
    sock?: Duplex;
    readyTimeout?: number;
    algorithms?: Record<string, string[]>;
  }

  export interface ClientChannel extends Duplex {
    stderr: Readable;
  }

  export interface TransferOptions {
    concurrency?: number;
    chunkSize?: number;
  }

  /** The SFTP client of `client.sftp()` (lib/protocol/SFTP.js). */
  export interface SFTPWrapper extends EventEmitter {
    fastGet(remotePath: string, localPath: string, opts: TransferOptions, cb: (err: Error | undefined) => void): void;
    fastPut(localPath: string, remotePath: string, opts: TransferOptions, cb: (err: Error | undefined) => void): void;
    open(path: string, flags: string | number, cb: (err: Error | undefined, handle: Buffer) => void): void;
    /** Resolves `bytesRead` 0 at EOF. */
    read(handle: Buffer, buf: Buffer, off: number, len: number, position: number,
      cb: (err: Error | undefined, bytesRead: number, buf: Buffer, position: number) => void): void;
    close(handle: Buffer, cb: (err: Error | undefined) => void): void;
    end(): void;
  }

  export class Client extends EventEmitter {
    connect(config: ConnectConfig): this;
    exec(command: string, callback: (err: Error | undefined, stream: ClientChannel) => void): boolean;
    sftp(callback: (err: Error | undefined, sftp: SFTPWrapper) => void): this;
    forwardOut(srcIP: string, srcPort: number, dstIP: string, dstPort: number,
      callback: (err: Error | undefined, stream: ClientChannel) => void): boolean;
    setNoDelay(noDelay?: boolean): this;
    end(): this;
    destroy(): this;
  }
}
