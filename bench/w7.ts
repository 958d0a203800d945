/**
 * W7 direct-tcpip throughput (ANCHORS.md): push BYTES (1 GiB; --quick 32 MiB) through a
 * direct-tcpip channel to a TCP sink on the server's loopback, per op: open the channel, write
 * everything, send EOF, read the sink's 8-byte count of what it received (must equal BYTES, so
 * a broken transfer cannot look fast), close, free. One authenticated connection per batch
 * (untimed). The sink is bench/c/sink.c, its own process (its CPU is in no peer's figures).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client, ClientChannel } from 'ssh2';
import type { Channel, Session } from '../lib';
import { cPeer, timeInProcess, withTimeout, type Batch, type Peer, type Workload } from './harness';
import { bindingConnect, bindingDisconnect, ssh2Connect, ssh2Disconnect } from './clients';
import { opensshMuxPeer } from './openssh';
import { dataParent } from './sftp';

const BYTES = 1 << 30;
const BYTES_QUICK = 32 << 20;
/** Bytes per write call of every peer (the C program uses the same, bench/c/w7.c CHUNK). */
export const W7_CHUNK = 1 << 20;
const OP_TIMEOUT_MS = 180_000;

let sink: ChildProcess | null = null;
let sinkPort = 0;
let bytes = BYTES;
/** The C peer's extra arguments (sink port and size), filled in by setup(). */
const cArgs: string[] = [];
/** The OpenSSH peer's input: BYTES of the pattern in a file (/dev/shm), made by setup(). */
let dataDir = '';
let dataFile = '';

function pattern(): Buffer {
  const b = Buffer.alloc(W7_CHUNK);
  for (let i = 0; i < b.length; i++) b[i] = (i * 131 + 7) & 0xff;
  return b;
}

function checkCount(count: Buffer): void {
  if (count.length !== 8) throw new Error(`W7: the sink's count has ${count.length} bytes`);
  const got = Number(count.readBigUInt64BE(0));
  if (got !== bytes) throw new Error(`W7: the sink received ${got} bytes, not ${bytes}`);
}

async function bindingPush(session: Session, chunk: Buffer): Promise<void> {
  const ch: Channel = await session.directTcpip('127.0.0.1', sinkPort);
  try {
    for (let left = bytes; left > 0; left -= chunk.length) {
      await ch.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
    }
    await ch.sendEof();
    const parts: Buffer[] = [];
    let n = 0;
    for (let i = 0; i < 100 && n < 8; i++) {
      const b = await ch.read(8 - n);
      if (b.length === 0) break;
      parts.push(b);
      n += b.length;
    }
    checkCount(Buffer.concat(parts));
    await ch.close();
  } finally {
    await ch.free();
  }
}

const binding: Peer = {
  name: 'binding',
  label: 'this binding (await channel.write of 1 MiB chunks)',
  async run(t, iterations, warmup): Promise<Batch> {
    const { session, methods } = await bindingConnect(t);
    session.setTimeout(OP_TIMEOUT_MS);
    const chunk = pattern();
    try {
      return { ...(await timeInProcess(iterations, warmup, () => bindingPush(session, chunk))), methods };
    } finally {
      await bindingDisconnect(session);
    }
  },
};

function ssh2Push(conn: Client, chunk: Buffer): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    conn.forwardOut('127.0.0.1', 22, '127.0.0.1', sinkPort, (err: Error | undefined, stream: ClientChannel) => {
      if (err) {
        reject(err);
        return;
      }
      const parts: Buffer[] = [];
      stream.on('data', (b: Buffer) => parts.push(b));
      stream.on('error', reject);
      stream.on('close', () => {
        try {
          checkCount(Buffer.concat(parts));
          resolve();
        } catch (e) {
          reject(e);
        }
      });
      let left = bytes;
      const pump = (): void => {
        while (left > 0) {
          const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= part.length;
          if (!stream.write(part)) {
            stream.once('drain', pump);
            return;
          }
        }
        stream.end();
      };
      pump();
    });
  });
  return withTimeout(done, OP_TIMEOUT_MS, 'ssh2 forwardOut push', () => conn.destroy());
}

function ssh2Peer(noDelay: boolean): Peer {
  return {
    name: noDelay ? 'ssh2+nodelay' : 'ssh2',
    label: `\`ssh2\` npm${noDelay ? ' + setNoDelay(true)' : ', defaults'} (forwardOut, stream.write of 1 MiB chunks)`,
    async run(t, iterations, warmup): Promise<Batch> {
      const { conn, methods } = await ssh2Connect(t, noDelay);
      const chunk = pattern();
      try {
        return { ...(await timeInProcess(iterations, warmup, () => ssh2Push(conn, chunk))), methods };
      } finally {
        await ssh2Disconnect(conn);
      }
    },
  };
}

async function setup(_t: unknown, opts: { quick: boolean }): Promise<void> {
  bytes = opts.quick ? BYTES_QUICK : BYTES;
  const child = spawn(path.join(__dirname, 'c', 'build', 'sink'), [], { stdio: ['ignore', 'pipe', 'inherit'] });
  sink = child;
  const port = await withTimeout(new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the W7 sink exited with ${code}`)));
  }), 10_000, 'W7 sink start', () => child.kill());
  sinkPort = port;
  cArgs.length = 0;
  cArgs.push(String(sinkPort), String(bytes));
  dataDir = fs.mkdtempSync(path.join(dataParent(bytes + (64 << 20)), 'libssh2-bench-w7-'));
  dataFile = path.join(dataDir, 'pattern');
  const chunk = pattern();
  const fd = fs.openSync(dataFile, 'w');
  try {
    for (let left = bytes; left > 0; left -= chunk.length) fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  } finally {
    fs.closeSync(fd);
  }
}

async function teardown(): Promise<void> {
  sink?.kill();
  sink = null;
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  dataDir = '';
}

export const w7: Workload = {
  id: 'W7',
  title: 'W7 direct-tcpip throughput',
  description: 'one authenticated connection per batch, then per op: open a direct-tcpip channel to a TCP sink on ' +
    '127.0.0.1 (bench/c/sink.c), write 1 GiB (--quick: 32 MiB) in 1 MiB calls, send EOF, read the sink\'s byte count ' +
    '(checked), close, free',
  unit: 'push',
  throughput: true,
  peers: [
    cPeer('C', 'C program on the same libssh2 (blocking, TCP_NODELAY, libssh2_channel_write of 1 MiB)', 'w7', cArgs, OP_TIMEOUT_MS),
    binding,
    ssh2Peer(false),
    ssh2Peer(true),
    opensshMuxPeer('w7', 'OpenSSH `ssh -S socket -W 127.0.0.1:sink` through a ControlMaster, stdin from a file in /dev/shm', 1,
      () => ({ file: dataFile, forward: `127.0.0.1:${sinkPort}` })),
  ],
  ratios: [['binding', 'C'], ['binding', 'ssh2'], ['binding', 'ssh2+nodelay'], ['binding', 'openssh']],
  rate: { unit: 'MB/s', perOp: () => bytes / 1e6 },
  defaults: { iterations: 5, rounds: 5, warmup: 0 },
  quick: { iterations: 1, rounds: 1, warmup: 1 }, // the first channel after auth waits ~40 ms on sshd's Nagle
  setup,
  teardown,
};
