import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { connect, Session, Sftp, SftpNoSuchFileError } from '../lib';
import { fixture } from './fixtures';
import { authenticated } from './helpers/connect';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

describe('fast transfers and conveniences', () => {
  let s: Session;
  let sftp: Sftp;
  let remote: string;
  let local: string;
  const data = crypto.randomBytes(20 * 1024 * 1024 + 13);

  beforeAll(async () => {
    s = await authenticated();
    sftp = await s.sftpInit();
    remote = `${await sftp.realpath('.')}/libssh2-transfer-${process.pid}`;
    await sftp.mkdir(remote, 0o755);
    local = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-transfer-'));
    fs.writeFileSync(path.join(local, 'src'), data);
  });
  afterAll(async () => {
    await sftp.rmdir(remote, { recursive: true });
    await sftp.shutdown();
    await s.close();
    fs.rmSync(local, { recursive: true, force: true });
  });

  it('fastPut then fastGet, sha256 equal, progress to the total', async () => {
    const progress: number[] = [];
    await sftp.fastPut(path.join(local, 'src'), `${remote}/big`, { onProgress: (d) => progress.push(d) });
    expect((await sftp.stat(`${remote}/big`)).filesize).toBe(data.length);
    expect(progress[progress.length - 1]).toBe(data.length);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    await sftp.fastGet(`${remote}/big`, path.join(local, 'back'), { concurrency: 3, chunkSize: 300000 });
    expect(sha(fs.readFileSync(path.join(local, 'back')))).toBe(sha(data));
    expect(fs.readdirSync(local).filter((n) => n.includes('.part-'))).toEqual([]);
  }, 120000);

  it('connections: workers spread over extra sessions (connect()-made or from a function), all closed after', async () => {
    const f = fixture();
    const kh = path.join(local, 'known_hosts');
    const hostKey = fs.readFileSync(f.hostKeys.ed25519.public, 'utf8').trim().split(/\s+/);
    fs.writeFileSync(kh, `[127.0.0.1]:${f.port} ${hostKey[0]} ${hostKey[1]}\n`);
    const c = await connect({ host: '127.0.0.1', port: f.port, username: f.user, privateKey: f.keys.ed25519.private, knownHosts: kh });
    try {
      const csftp = await c.sftpInit();
      await csftp.fastGet(`${remote}/big`, path.join(local, 'conn3'), { connections: 3, concurrency: 6, chunkSize: 1 << 20 });
      expect(sha(fs.readFileSync(path.join(local, 'conn3')))).toBe(sha(data));
      await csftp.fastPut(path.join(local, 'src'), `${remote}/conn-up`, { connections: 2, concurrency: 4 });
      expect((await csftp.stat(`${remote}/conn-up`)).filesize).toBe(data.length);
      await csftp.shutdown();
    } finally {
      await c.close();
    }
    // A function: the transfer opens what it needs and closes it.
    const opened: Session[] = [];
    await sftp.fastGet(`${remote}/big`, path.join(local, 'fn'), {
      concurrency: 4,
      connections: async () => { const x = await authenticated(); opened.push(x); return x; },
    });
    expect(sha(fs.readFileSync(path.join(local, 'fn')))).toBe(sha(data));
    expect(opened.length).toBe(3);
    expect(opened.every((x) => x.closed)).toBe(true);
    // A plain session cannot be reconnected: a clear error before any transfer.
    await expect(sftp.fastGet(`${remote}/big`, path.join(local, 'no'), { connections: 2 })).rejects.toBeInstanceOf(RangeError);
    expect(fs.existsSync(path.join(local, 'no'))).toBe(false);
    await expect(sftp.fastGet(`${remote}/big`, path.join(local, 'no'), { connections: 0 })).rejects.toBeInstanceOf(RangeError);
  }, 120000);

  it('8 concurrent fastGets on one session', async () => {
    await sftp.writeFile(`${remote}/eight`, data.subarray(0, 3 * 1024 * 1024));
    await Promise.all(Array.from({ length: 8 }, (_, i) => sftp.fastGet(`${remote}/eight`, path.join(local, `e${i}`))));
    for (let i = 0; i < 8; i++) expect(sha(fs.readFileSync(path.join(local, `e${i}`)))).toBe(sha(data.subarray(0, 3 * 1024 * 1024)));
  }, 120000);

  it('an abort mid-transfer rejects and leaves no file under the target name, nor a temporary one', async () => {
    await sftp.fastPut(path.join(local, 'src'), `${remote}/abortme`);
    const ac = new AbortController();
    const p = sftp.fastGet(`${remote}/abortme`, path.join(local, 'aborted'), {
      chunkSize: 60000, concurrency: 2, signal: ac.signal, onProgress: (d) => { if (d > 1_000_000) ac.abort(); },
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(fs.existsSync(path.join(local, 'aborted'))).toBe(false);
    expect(fs.readdirSync(local).filter((n) => n.includes('.part-'))).toEqual([]);
    const ac2 = new AbortController();
    const up = sftp.fastPut(path.join(local, 'src'), `${remote}/aborted-up`, {
      chunkSize: 60000, signal: ac2.signal, onProgress: (d) => { if (d > 1_000_000) ac2.abort(); },
    });
    await expect(up).rejects.toMatchObject({ name: 'AbortError' });
    expect(await sftp.exists(`${remote}/aborted-up`)).toBe(false);
    expect((await sftp.list(remote)).filter((e) => e.name.includes('.part-'))).toEqual([]);
  }, 120000);

  it('a missing remote file: SftpNoSuchFileError, no local file', async () => {
    await expect(sftp.fastGet(`${remote}/missing`, path.join(local, 'missing'))).rejects.toBeInstanceOf(SftpNoSuchFileError);
    expect(fs.existsSync(path.join(local, 'missing'))).toBe(false);
  });

  it('readFile, writeFile, exists, list', async () => {
    await sftp.writeFile(`${remote}/small`, 'hello', 0o600);
    expect((await sftp.readFile(`${remote}/small`)).toString()).toBe('hello');
    expect(await sftp.exists(`${remote}/small`)).toBe('-');
    expect(await sftp.exists(remote)).toBe('d');
    expect(await sftp.exists(`${remote}/nothing`)).toBe(false);
    const entries = await sftp.list(remote);
    const small = entries.find((e) => e.name === 'small')!;
    expect(small.type).toBe('-');
    expect(small.size).toBe(5);
    expect(small.mode).toBe(0o600);
    expect(entries.some((e) => e.name === '.' || e.name === '..')).toBe(false);
  });

  it('createReadStream (with start/end) and createWriteStream with backpressure', async () => {
    await pipeline(fs.createReadStream(path.join(local, 'src')), sftp.createWriteStream(`${remote}/streamed`));
    expect((await sftp.stat(`${remote}/streamed`)).filesize).toBe(data.length);
    await pipeline(sftp.createReadStream(`${remote}/streamed`, { highWaterMark: 60000 }), fs.createWriteStream(path.join(local, 'streamed')));
    expect(sha(fs.readFileSync(path.join(local, 'streamed')))).toBe(sha(data));
    const parts: Buffer[] = [];
    for await (const b of sftp.createReadStream(`${remote}/streamed`, { start: 1000, end: 300999 })) parts.push(b as Buffer);
    expect(Buffer.concat(parts)).toEqual(data.subarray(1000, 301000));
    const append = sftp.createWriteStream(`${remote}/small2`);
    append.end('ab');
    await new Promise((r) => append.on('finish', r));
    const more = sftp.createWriteStream(`${remote}/small2`, { flags: 'a' });
    more.end('cd');
    await new Promise((r) => more.on('finish', r));
    expect((await sftp.readFile(`${remote}/small2`)).toString()).toBe('abcd');
    const missing = sftp.createReadStream(`${remote}/none`);
    await expect(new Promise((_, reject) => missing.on('error', reject))).rejects.toBeInstanceOf(SftpNoSuchFileError);
  }, 60000);

  it('putDirectory and getDirectory: recursive, contents, modes and mtimes kept', async () => {
    const tree = path.join(local, 'tree');
    fs.mkdirSync(path.join(tree, 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'top.txt'), 'top');
    fs.writeFileSync(path.join(tree, 'a', 'b', 'deep.bin'), data.subarray(0, 100000));
    fs.chmodSync(path.join(tree, 'a', 'b', 'deep.bin'), 0o600);
    fs.utimesSync(path.join(tree, 'top.txt'), 1100000000, 1100000000);
    await sftp.putDirectory(tree, `${remote}/tree`);
    const deep = await sftp.stat(`${remote}/tree/a/b/deep.bin`);
    expect(deep.permissions & 0o777).toBe(0o600);
    expect((await sftp.stat(`${remote}/tree/top.txt`)).mtime).toBe(1100000000);
    await sftp.getDirectory(`${remote}/tree`, path.join(local, 'tree-back'));
    expect(fs.readFileSync(path.join(local, 'tree-back', 'top.txt'), 'utf8')).toBe('top');
    expect(sha(fs.readFileSync(path.join(local, 'tree-back', 'a', 'b', 'deep.bin')))).toBe(sha(data.subarray(0, 100000)));
    expect(fs.statSync(path.join(local, 'tree-back', 'a', 'b', 'deep.bin')).mode & 0o777).toBe(0o600);
    expect(Math.floor(fs.statSync(path.join(local, 'tree-back', 'top.txt')).mtimeMs / 1000)).toBe(1100000000);
  }, 60000);
});
