/**
 * Port of libssh2's example/sftp_append.c: append a local file to a remote one with SFTP
 * (blocking calls: the async API): open for reading and writing, fstat, seek to the end, write.
 *
 *   node -r ./scripts/register-ts.js examples/sftp_append.ts 127.0.0.1 user password sftp_write.c /tmp/TEST
 */
import * as fs from 'node:fs';
import {
  LIBSSH2_FXF_READ, LIBSSH2_FXF_WRITE, LIBSSH2_HOSTKEY_HASH_SHA1, LIBSSH2_SFTP_S_IRGRP, LIBSSH2_SFTP_S_IROTH,
  LIBSSH2_SFTP_S_IRUSR, LIBSSH2_SFTP_S_IWUSR, Session,
} from '../lib';
import { connectTcp, failed, fingerprintHex, parseArgs, run } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, loclfile, sftppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'loclfile', 'sftppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', loclfile: 'sftp_write.c', sftppath: '/tmp/TEST' });
  const authPw = !useKey;

  let local: fs.promises.FileHandle;
  try {
    local = await fs.promises.open(loclfile, 'r');
  } catch {
    throw new Error(`Cannot open local file ${loclfile}`);
  }

  // The application opens the socket and connects it.
  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  try {
    // Tell libssh2 we are blocking (the async API: the default).
    session.setBlocking(true);

    // Start it up: banners, key exchange, crypto, compression and MAC layers.
    await session.handshake(sock).catch(failed('Failure establishing SSH session'));

    // Not authenticated yet: check the host key's fingerprint against what we know.
    const fingerprint = session.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA1);
    process.stderr.write(`Fingerprint: ${fingerprintHex(fingerprint)}\n`);

    if (authPw) {
      // Authenticate via password
      await session.userauthPassword(username, password).catch(failed('Authentication by password failed.'));
    } else {
      // Or by public key
      await session.userauthPublickeyFromfile(username, privkey, passphrase, pubkey)
        .catch(failed('Authentication by public key failed.'));
    }

    process.stderr.write('session.sftpInit().\n');
    const sftpSession = await session.sftpInit().catch(failed('Unable to init SFTP session'));

    process.stderr.write('sftp.open() for READ and WRITE.\n');
    // Request a file via SFTP
    const sftpHandle = await sftpSession.open(sftppath, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_READ,
      LIBSSH2_SFTP_S_IRUSR | LIBSSH2_SFTP_S_IWUSR | LIBSSH2_SFTP_S_IRGRP | LIBSSH2_SFTP_S_IROTH)
      .catch((e) => failed(`Unable to open file with SFTP: ${sftpSession.lastError()}`)(e));

    // Its size is where the appended data goes.
    const attrs = await sftpHandle.fstat().catch(failed('handle.fstat failed'));
    sftpHandle.seek64(attrs.filesize);
    process.stderr.write(`Did a seek to position ${attrs.filesize}\n`);

    process.stderr.write('sftp.open() is done, now send data.\n');
    const mem = Buffer.alloc(1024 * 100);
    for (;;) {
      const { bytesRead: nread } = await local.read(mem, 0, mem.length, null);
      if (nread <= 0) break; // end of file
      // The async write sends all of it (the C loop over partial writes is inside).
      await sftpHandle.write(mem.subarray(0, nread));
    }

    await sftpHandle.close();
    await sftpSession.shutdown();
  } finally {
    // shutdown:
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
    await local.close();
  }
  process.stderr.write('all done\n');
  return 0;
}

run(main);
