import * as crypto from 'crypto';
import { Session, Channel, ChannelError, ScpProtocolError } from '../lib';
import { authenticated } from './helpers/connect';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

async function readExactly(ch: Channel, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const b = await ch.read(Math.min(65536, n - got));
    if (b.length === 0) break;
    parts.push(b);
    got += b.length;
  }
  return Buffer.concat(parts);
}

describe('scp', () => {
  let s: Session;
  let dir: string;
  beforeAll(async () => {
    s = await authenticated();
    const sftp = await s.sftpInit();
    dir = `${await sftp.realpath('.')}/libssh2-scp-test-${process.pid}`;
    await sftp.mkdir(dir, 0o755);
    await sftp.shutdown();
  });
  afterAll(async () => {
    const sftp = await s.sftpInit();
    await sftp.rmdir(dir, { recursive: true });
    await s.close();
  });

  it.each([0, 1, 100000, 5 * 1024 * 1024 + 3])('send then receive %d bytes, sha256 equal, mode and mtime kept', async (size) => {
    const data = crypto.randomBytes(size);
    const path = `${dir}/f${size}`;
    const up = await s.scpSend64(path, 0o640, size, 1300000000, 1300000000);
    await up.write(data);
    await up.write(Buffer.from([0])); // SCP's end-of-file acknowledgement: the sink then sets the times
    await up.sendEof();
    await up.waitEof();
    await up.close();
    await up.free();
    const { channel, stat } = await s.scpRecv2(path);
    expect(stat.size).toBe(size);
    expect(stat.mode & 0o777).toBe(0o640);
    expect(stat.mtime).toBe(1300000000);
    const back = await readExactly(channel, size);
    await channel.free();
    expect(sha(back)).toBe(sha(data));
  }, 60000);

  it('a missing remote file fails with ScpProtocolError (a ChannelError)', async () => {
    const err = await s.scpRecv2(`${dir}/missing`).catch((e) => e);
    expect(err).toBeInstanceOf(ScpProtocolError);
    expect(err).toBeInstanceOf(ChannelError);
    // The session still works.
    const { channel } = await s.scpRecv2(`${dir}/f1`);
    expect((await readExactly(channel, 1)).length).toBe(1);
    await channel.free();
  });
});
