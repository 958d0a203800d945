/**
 * SFTP against a hostile server (issue 11): a raw SFTP v3 server written on the `ssh2` npm
 * package's Server (its 'subsystem' channel, so every byte is ours) that answers reads short,
 * sends a readdir reply announcing 4 GiB or 2^31 entries, 100 KB file names and huge attributes.
 * deps/patches/sftp-short-read.patch and sftp-readdir-size-cap.patch; LIBSSH2-PITFALLS.md items
 * 23 and 26.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ServerChannel } from 'ssh2';
import {
  Session, Libssh2Error, SftpProtocolError, ChannelPacketExceededError, LIBSSH2_FXF_READ,
} from '../lib';
import { startScriptedServer, str, u32, type ScriptedServer } from './fixtures/scripted-ssh-server';
import { tcp } from './helpers/connect';

const FXP = {
  INIT: 1, VERSION: 2, OPEN: 3, CLOSE: 4, READ: 5, LSTAT: 7, OPENDIR: 11, READDIR: 12, REALPATH: 16, STAT: 17,
  STATUS: 101, HANDLE: 102, DATA: 103, NAME: 104, ATTRS: 105,
} as const;
const FX_OK = 0;
const FX_EOF = 1;

/** One SFTP packet: uint32 length, type, body. */
function pkt(type: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from([type]), ...parts]);
  return Buffer.concat([u32(body.length), body]);
}
const status = (id: number, code: number) => pkt(FXP.STATUS, u32(id), u32(code), str(''), str(''));
/** A NAME entry: filename, longname, empty attributes. */
const entry = (name: string | Buffer, long: string | Buffer = name) => Buffer.concat([str(name), str(long), u32(0)]);

interface Script {
  /** The contents of every file. */
  file: Buffer;
  /** How many bytes a READ of `len` bytes answers with (n: the READ's number); default all. */
  readLen?: (len: number, n: number) => number;
  /** The bytes that answer the n-th READDIR (0-based) of request `id`; default EOF. */
  readdir?: (id: number, n: number) => Buffer;
  /** The name REALPATH answers with. */
  realpath?: string;
  /** The bytes that answer the n-th STAT/LSTAT (0-based) of request `id`; default empty attributes. */
  stat?: (id: number, n: number) => Buffer;
}

let script: Script = { file: Buffer.alloc(0) };
/** Every request type the server received, in order. */
const requests: number[] = [];

function serveSftp(channel: ServerChannel): void {
  let pending = Buffer.alloc(0);
  let reads = 0;
  let readdirs = 0;
  let stats = 0;
  const handle = (body: Buffer): Buffer | null => {
    const type = body[0];
    requests.push(type);
    if (type === FXP.INIT) return pkt(FXP.VERSION, u32(3));
    const id = body.readUInt32BE(1);
    let off = 5;
    const string = () => {
      const n = body.readUInt32BE(off);
      const s = body.subarray(off + 4, off + 4 + n);
      off += 4 + n;
      return s;
    };
    switch (type) {
      case FXP.OPEN:
      case FXP.OPENDIR:
        return pkt(FXP.HANDLE, u32(id), str(type === FXP.OPEN ? 'file' : 'dir'));
      case FXP.READ: {
        string();
        const offset = Number(body.readBigUInt64BE(off));
        const len = body.readUInt32BE(off + 8);
        if (offset >= script.file.length) return status(id, FX_EOF);
        const n = Math.min(len, script.file.length - offset, script.readLen?.(len, reads++) ?? len);
        return pkt(FXP.DATA, u32(id), str(script.file.subarray(offset, offset + n)));
      }
      case FXP.READDIR:
        return script.readdir?.(id, readdirs++) ?? status(id, FX_EOF);
      case FXP.REALPATH:
        return pkt(FXP.NAME, u32(id), u32(1), entry(script.realpath ?? '/'));
      case FXP.STAT:
      case FXP.LSTAT:
        return script.stat?.(id, stats++) ?? pkt(FXP.ATTRS, u32(id), u32(0));
      default:
        return status(id, FX_OK);
    }
  };
  channel.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
      const body = pending.subarray(4, 4 + pending.readUInt32BE(0));
      pending = pending.subarray(4 + body.length);
      const reply = handle(body);
      if (reply) channel.write(reply);
    }
  });
  channel.on('error', () => undefined);
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const asan = process.env.LIBSSH2_ASAN === '1';

describe('SFTP against a hostile server', () => {
  let server: ScriptedServer;

  beforeAll(async () => {
    server = await startScriptedServer((conn) => {
      conn.on('session', (accept) => {
        accept().on('subsystem', (ok, reject, info) => (info.name === 'sftp' ? serveSftp(ok()) : reject()));
      });
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  async function connect(): Promise<Session> {
    const s = new Session();
    s.setTimeout(20000); // a hang fails as TimeoutError
    await s.handshake(await tcp(server.host, server.port));
    await s.userauthPassword('tester', 'any');
    return s;
  }

  it('short FXP_DATA replies: a 3 MB file read with read-ahead arrives complete and in order', async () => {
    const file = crypto.randomBytes(3 * 1024 * 1024 + 12345);
    // Between 1 byte and all that was asked for, varying per request; every 5th is whole.
    script = { file, readLen: (len, n) => (n % 5 === 4 ? len : 1 + ((n * 7919) % len)) };
    const s = await connect();
    const sftp = await s.sftpInit();
    const h = await sftp.open('/f', LIBSSH2_FXF_READ, 0);
    const parts: Buffer[] = [];
    for (let i = 0; i < 100000; i++) {
      const b = await h.read(120000); // read-ahead: several FXP_READ in flight when one comes back short
      if (b.length === 0) break;
      parts.push(b);
    }
    await h.close();
    const got = Buffer.concat(parts);
    expect(got.length).toBe(file.length);
    expect(sha256(got)).toBe(sha256(file));
    // The convenience on top of it too.
    expect(sha256(await sftp.readFile('/f'))).toBe(sha256(file));
    // fastGet queues the next read before a short one returns: the queued reads continue where
    // the short one stopped, and the shortfall is asked for again, up to each worker's segment end.
    const size = Buffer.alloc(8);
    size.writeBigUInt64BE(BigInt(file.length));
    script.stat = (id) => pkt(FXP.ATTRS, u32(id), u32(0x1), size);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-fastget-'));
    try {
      for (const concurrency of [1, 3]) {
        const local = path.join(dir, `c${concurrency}`);
        await sftp.fastGet('/f', local, { concurrency, chunkSize: 250000 });
        const back = fs.readFileSync(local);
        expect(back.length).toBe(file.length);
        expect(sha256(back)).toBe(sha256(file));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await s.close();
  }, 120000);

  it('a readdir reply announcing 4 GiB fails with ChannelPacketExceededError, memory bounded, session usable', async () => {
    script = {
      file: Buffer.alloc(0),
      // The header of a 0xfffffff0-byte FXP_NAME with 2^31 entries, then a little of its body.
      readdir: (id) => Buffer.concat([u32(0xfffffff0), Buffer.from([FXP.NAME]), u32(id), u32(0x80000000), Buffer.alloc(1000, 0x61)]),
    };
    const s = await connect();
    const rss = process.memoryUsage().rss;
    const sftp = await s.sftpInit();
    const dir = await sftp.opendir('/d');
    const err = await dir.readdir().catch((e) => e);
    expect(err).toBeInstanceOf(ChannelPacketExceededError);
    if (!asan) expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 1024 * 1024);
    // Nothing is stuck: the session works, and a new SFTP channel does too.
    expect(s.closed).toBe(false);
    script = { file: Buffer.alloc(0) };
    const again = await s.sftpInit();
    const d2 = await again.opendir('/d');
    expect(await d2.readdir()).toBeNull();
    await s.close();
  }, 60000);

  it('a readdir reply announcing 2^31 entries but holding 3: the 3, then a protocol error, then the next reply', async () => {
    script = {
      file: Buffer.alloc(0),
      readdir: (id, n) => (n === 0
        ? pkt(FXP.NAME, u32(id), u32(0x80000000), entry('a'), entry('b'), entry('c'))
        : status(id, FX_EOF)),
    };
    const s = await connect();
    const sftp = await s.sftpInit();
    const dir = await sftp.opendir('/d');
    const names: string[] = [];
    for (let i = 0; i < 3; i++) names.push((await dir.readdir())?.[0] ?? '');
    expect(names).toEqual(['a', 'b', 'c']);
    const err = await dir.readdir().catch((e) => e);
    expect(err).toBeInstanceOf(SftpProtocolError);
    expect(err).toBeInstanceOf(Libssh2Error);
    // The malformed reply is gone (1.11.1 failed the same way forever): the next readdir asks
    // the server again, which says EOF.
    expect(await dir.readdir()).toBeNull();
    expect(requests.filter((t) => t === FXP.READDIR).length).toBeGreaterThanOrEqual(2);
    await dir.close();
    await s.close();
  }, 60000);

  it('100 KB file names in readdir and realpath are returned whole (or fail cleanly)', async () => {
    const long = 'n'.repeat(100 * 1024);
    script = {
      file: Buffer.alloc(0),
      readdir: (id, n) => (n === 0
        ? pkt(FXP.NAME, u32(id), u32(2), entry(long, `-rw-r--r-- 1 u g 0 Jan 1 00:00 ${long}`), entry('short'))
        : status(id, FX_EOF)),
      realpath: `/${long}`,
    };
    const s = await connect();
    const sftp = await s.sftpInit();
    const dir = await sftp.opendir('/d');
    const first = await dir.readdir();
    expect(first?.[0]).toBe(long);
    expect(first?.[2]).toContain(long);
    expect((await dir.readdir())?.[0]).toBe('short');
    expect(await dir.readdir()).toBeNull();
    await dir.close();
    const real = await sftp.realpath('/x').catch((e) => e);
    if (real instanceof Error) expect(real).toBeInstanceOf(Libssh2Error);
    else expect(real).toBe(`/${long}`);
    // A 100 KB path goes out and is answered; the SFTP channel is still in sync afterwards.
    expect((await sftp.stat(`/${long}`)).flags).toBe(0);
    expect((await sftp.stat('/y')).flags).toBe(0);
    await s.close();
  }, 60000);

  it('huge attributes: 100 KB of extended pairs parse; a count of 2^31 with 2 pairs fails cleanly; in sync after', async () => {
    const SIZE = 0x1;
    const EXTENDED = 0x80000000;
    const pair = (i: number) => Buffer.concat([str(`ext${i}@example.com`), str(Buffer.alloc(1000, i))]);
    const pairs = (n: number) => Buffer.concat(Array.from({ length: n }, (_, i) => pair(i)));
    const size = Buffer.alloc(8);
    size.writeBigUInt64BE(123456789n);
    script = {
      file: Buffer.alloc(0),
      stat: (id, n) => {
        if (n === 0) return pkt(FXP.ATTRS, u32(id), u32(SIZE | EXTENDED), size, u32(100), pairs(100));
        if (n === 1) return pkt(FXP.ATTRS, u32(id), u32(SIZE | EXTENDED), size, u32(0x80000000), pairs(2));
        return pkt(FXP.ATTRS, u32(id), u32(SIZE), size);
      },
    };
    const s = await connect();
    const sftp = await s.sftpInit();
    const big = await sftp.stat('/big');
    expect(big.filesize).toBe(123456789);
    expect(big.flags & SIZE).toBe(SIZE);
    await expect(sftp.stat('/lying')).rejects.toBeInstanceOf(Libssh2Error);
    expect((await sftp.stat('/next')).filesize).toBe(123456789); // the reply stream is still in sync
    await s.close();
  }, 60000);
});
