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

  export class Client extends EventEmitter {
    connect(config: ConnectConfig): this;
    exec(command: string, callback: (err: Error | undefined, stream: ClientChannel) => void): boolean;
    setNoDelay(noDelay?: boolean): this;
    end(): this;
    destroy(): this;
  }
}
