/**
 * Hostile servers for test/hostile/: a raw TCP server (before key exchange), a flipping proxy to
 * the run's sshd, and helpers to reach below the `ssh2` package's Server (its Protocol object)
 * for hostile behaviour after key exchange. Loopback only, free ports, everything bounded.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { fixture } from '../fixtures';

export interface RawServer {
  port: number;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that hands each connection to `onClient`. */
export async function rawServer(onClient: (sock: net.Socket) => void): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
    onClient(sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/**
 * Writes `chunk()` to `sock` again and again (with backpressure) until the peer goes away or
 * `maxBytes` were written: "endless" for the client, bounded for the test.
 */
export function writeEndlessly(sock: net.Socket, chunk: () => Buffer, maxBytes = 64 * 1024 * 1024): void {
  let written = 0;
  const pump = (): void => {
    while (!sock.destroyed && written < maxBytes) {
      const b = chunk();
      written += b.length;
      if (!sock.write(b)) {
        sock.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

/** One unencrypted SSH binary packet (RFC 4253 6) around `payload`. */
export function plainPacket(payload: Buffer): Buffer {
  let padding = 8 - ((5 + payload.length) % 8);
  if (padding < 4) padding += 8;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + padding, 0);
  head[4] = padding;
  return Buffer.concat([head, payload, crypto.randomBytes(padding)]);
}

/** An SSH name-list / string. */
export function sshString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length, 0);
  return Buffer.concat([len, b]);
}

/** A real-looking SSH_MSG_KEXINIT payload whose algorithms are the given names. */
export function kexinit(names: { kex: string; hostkey: string; cipher: string; mac: string }): Buffer {
  return Buffer.concat([
    Buffer.from([20]), crypto.randomBytes(16),
    sshString(names.kex), sshString(names.hostkey),
    sshString(names.cipher), sshString(names.cipher),
    sshString(names.mac), sshString(names.mac),
    sshString('none'), sshString('none'), sshString(''), sshString(''),
    Buffer.from([0, 0, 0, 0, 0]),
  ]);
}

export interface FlipProxy {
  port: number;
  /** When set, the next chunk from the server has one bit of its last byte flipped (once). */
  flipNext: boolean;
  /** How many bits were flipped. */
  flipped: number;
  close(): Promise<void>;
}

/** A proxy to the run's sshd that can flip one bit in the server-to-client stream. */
export async function startFlipProxy(): Promise<FlipProxy> {
  const f = fixture();
  const sockets = new Set<net.Socket>();
  const state: FlipProxy = {
    port: 0,
    flipNext: false,
    flipped: 0,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(f.port, f.host);
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on('error', () => undefined);
      sock.on('close', () => { sockets.delete(sock); client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (state.flipNext) {
        state.flipNext = false;
        state.flipped++;
        chunk = Buffer.from(chunk);
        chunk[chunk.length - 1] ^= 0x01;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

/** The resident set size in MiB. */
export function rssMiB(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}

/** RSS bounds are meaningless under ASan (its allocator keeps freed memory in quarantine). */
export const checkRss = process.env.LIBSSH2_ASAN !== '1';

/** A new RSA host key for an `ssh2` Server. */
export function hostKey(): string {
  return crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
  }).privateKey;
}

/** The parts of the `ssh2` package's internal Protocol object the hostile servers use. */
export interface Ssh2Protocol {
  channelWindowAdjust(chan: number, amount: number): void;
  channelData(chan: number, data: Buffer): void;
  channelEOF(chan: number): void;
  channelClose(chan: number): void;
  exitStatus(chan: number, status: number): void;
  exitSignal(chan: number, name: string, coreDumped: boolean, msg: string): void;
  ping(): void;
  serviceAccept(name: string): void;
  _cipher: { encrypt(packet: Buffer): void; _instance?: unknown };
  _packetRW: { write: { allocStart: number; alloc(n: number): Buffer; finalize(packet: Buffer, force?: boolean): Buffer } };
}

/** The Protocol object under an `ssh2` server connection. */
export function protocolOf(conn: unknown): Ssh2Protocol {
  return (conn as { _protocol: Ssh2Protocol })._protocol;
}

/** The client's channel id (the recipient channel of what the server sends) of an `ssh2` channel. */
export function recipientOf(channel: unknown): number {
  return (channel as { outgoing: { id: number } }).outgoing.id;
}

/** Sends a raw payload as one packet through an `ssh2` Protocol (encrypted by its cipher). */
export function sendRaw(proto: Ssh2Protocol, payload: Buffer): void {
  const start = proto._packetRW.write.allocStart;
  const packet = proto._packetRW.write.alloc(payload.length);
  payload.copy(packet, start);
  proto._cipher.encrypt(proto._packetRW.write.finalize(packet, true));
}
