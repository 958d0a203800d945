/**
 * SFTP control requests larger than the channel's send window (LIBSSH2-PITFALLS.md item 10,
 * deps/patches/sftp-control-request-partial-write.patch): the server here (the `ssh2` npm
 * package's Server) grants a 48-byte window and adds 48 bytes every 20 ms, so a request with a
 * long path goes out in many pieces. Without the patch, libssh2 1.11.1 fails such requests with
 * "Unable to send ..." after part of the request is already in the stream.
 */
import * as crypto from 'crypto';
import { Server } from 'ssh2';
import { Session } from '../lib';
import { tcp } from './helpers/connect';

const WINDOW = 48;

interface Proto {
  channelOpenConfirm(remote: number, local: number, window: number, maxPacket: number): void;
  channelWindowAdjust(remote: number, amount: number): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Protocol = require('ssh2/lib/protocol/Protocol.js') as { prototype: Proto };

describe('SFTP requests larger than the send window', () => {
  const timers = new Set<NodeJS.Timeout>();
  // eslint-disable-next-line @typescript-eslint/unbound-method -- restored as it was, and called with .call()
  const original = Protocol.prototype.channelOpenConfirm;
  const received: string[] = [];
  let server: Server;
  let port: number;

  beforeAll(async () => {
    // Every channel this server confirms gets a tiny window that grows slowly.
    Protocol.prototype.channelOpenConfirm = function (this: Proto, remote, local, _window, maxPacket) {
      original.call(this, remote, local, WINDOW, maxPacket);
      const t = setInterval(() => {
        try {
          this.channelWindowAdjust(remote, WINDOW);
        } catch {
          clearInterval(t);
        }
      }, 20);
      timers.add(t);
    };
    const { privateKey } = crypto.generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    server = new Server({ hostKeys: [privateKey] }, (client) => {
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => (ctx.method === 'password' ? ctx.accept() : ctx.reject(['password'])));
      client.on('session', (acceptSession) => {
        acceptSession().on('sftp', (accept) => {
          const sftp = accept();
          const attrs = (size: number) => ({ mode: 0o100644, uid: 0, gid: 0, size, atime: 0, mtime: 0 });
          sftp.on('STAT', (id: number, p: string) => { received.push(`stat ${p}`); sftp.attrs(id, attrs(p.length)); });
          sftp.on('LSTAT', (id: number, p: string) => { received.push(`lstat ${p}`); sftp.attrs(id, attrs(p.length)); });
          sftp.on('MKDIR', (id: number, p: string) => { received.push(`mkdir ${p}`); sftp.status(id, 0); });
          sftp.on('RMDIR', (id: number, p: string) => { received.push(`rmdir ${p}`); sftp.status(id, 0); });
          sftp.on('REMOVE', (id: number, p: string) => { received.push(`remove ${p}`); sftp.status(id, 0); });
          sftp.on('RENAME', (id: number, a: string, b: string) => { received.push(`rename ${a} ${b}`); sftp.status(id, 0); });
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    Protocol.prototype.channelOpenConfirm = original;
    for (const t of timers) clearInterval(t);
    if (server) await new Promise<void>((r) => server.close(() => r()));
  });

  it('stat, lstat, mkdir, rmdir, unlink and rename with 600-byte paths go out whole, in order', async () => {
    const s = new Session();
    s.setTimeout(30000);
    await s.handshake(await tcp('127.0.0.1', port));
    await s.userauthPassword('tester', 'any');
    const sftp = await s.sftpInit();
    const long = (c: string) => `/${c.repeat(600)}`;
    expect((await sftp.stat(long('a'))).filesize).toBe(601);
    expect((await sftp.lstat(long('b'))).filesize).toBe(601);
    await sftp.mkdir(long('c'), 0o755);
    await sftp.rmdir(long('d'));
    await sftp.unlink(long('e'));
    await sftp.rename(long('f'), long('g'));
    // The session is still in sync: a short request after the long ones.
    expect((await sftp.stat('/x')).filesize).toBe(2);
    expect(received).toEqual([
      `stat ${long('a')}`, `lstat ${long('b')}`, `mkdir ${long('c')}`, `rmdir ${long('d')}`,
      `remove ${long('e')}`, `rename ${long('f')} ${long('g')}`, 'stat /x',
    ]);
    await s.free(); // (ssh2's SFTP server stream does not answer the channel CLOSE here)
  }, 60000);
});
