/**
 * Hostile servers for test/hostile/: a raw TCP server (before key exchange) and a flipping proxy
 * to the run's sshd (after key exchange, ../fixtures/scripted-ssh-server.ts scripts the `ssh2`
 * package's Server). Loopback only, free ports, everything bounded.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { fixture } from '../fixtures';
import { str } from '../fixtures/scripted-ssh-server';

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

/** A real-looking SSH_MSG_KEXINIT payload whose algorithms are the given names. */
export function kexinit(names: { kex: string; hostkey: string; cipher: string; mac: string }): Buffer {
  return Buffer.concat([
    Buffer.from([20]), crypto.randomBytes(16),
    str(names.kex), str(names.hostkey),
    str(names.cipher), str(names.cipher),
    str(names.mac), str(names.mac),
    str('none'), str('none'), str(''), str(''),
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
