/**
 * Port of libssh2's example/sftp_write_nonblock.c: upload a local file with SFTP in non-blocking
 * mode, with the transfer rate.
 *
 *   node -r ./scripts/register-ts.js examples/sftp_write_nonblock.ts 127.0.0.1 user password sftp_write_nonblock.c /tmp/TEST
 */
import * as fs from 'node:fs';
import {
  LIBSSH2_FXF_CREAT, LIBSSH2_FXF_TRUNC, LIBSSH2_FXF_WRITE, LIBSSH2_HOSTKEY_HASH_SHA1, LIBSSH2_SFTP_S_IRGRP,
  LIBSSH2_SFTP_S_IROTH, LIBSSH2_SFTP_S_IRUSR, LIBSSH2_SFTP_S_IWUSR, Session, type Sftp, type SftpHandle,
} from '../lib';
import { connectTcp, fingerprintHex, LIBSSH2_ERROR_EAGAIN, parseArgs, run, waitsocket } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, loclfile, sftppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'loclfile', 'sftppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', loclfile: 'sftp_write_nonblock.c', sftppath: '/tmp/TEST' });
  const authPw = !useKey;
  let total = 0;

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
    // We are non-blocking: tell libssh2.
    session.setBlocking(false);

    // Start it up: banners, key exchange, crypto, compression and MAC layers.
    while (session.handshakeNb(sock) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);

    // Not authenticated yet: check the host key's fingerprint against what we know.
    const fingerprint = session.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA1);
    process.stderr.write(`Fingerprint: ${fingerprintHex(fingerprint)}\n`);

    if (authPw) {
      // Authenticate via password
      while (session.userauthPasswordNb(username, password) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    } else {
      // Or by public key
      while (session.userauthPublickeyFromfileNb(username, privkey, passphrase, pubkey) === LIBSSH2_ERROR_EAGAIN) {
        await waitsocket(session);
      }
    }

    process.stderr.write('session.sftpInitNb().\n');
    let sftpSession: Sftp | typeof LIBSSH2_ERROR_EAGAIN;
    while ((sftpSession = session.sftpInitNb()) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);

    process.stderr.write('sftp.openNb().\n');
    // Request a file via SFTP
    let sftpHandle: SftpHandle | typeof LIBSSH2_ERROR_EAGAIN;
    while ((sftpHandle = sftpSession.openNb(sftppath, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
      LIBSSH2_SFTP_S_IRUSR | LIBSSH2_SFTP_S_IWUSR | LIBSSH2_SFTP_S_IRGRP | LIBSSH2_SFTP_S_IROTH)) === LIBSSH2_ERROR_EAGAIN) {
      await waitsocket(session);
    }

    process.stderr.write('sftp.openNb() is done, now send data.\n');
    const start = Date.now();
    const mem = Buffer.alloc(1024 * 100);
    let nwritten = 0;
    do {
      let { bytesRead: nread } = await local.read(mem, 0, mem.length, null);
      if (nread <= 0) break; // end of file
      let ptr = 0;
      total += nread;
      do {
        // Write until it would block, then wait and repeat the same write.
        while ((nwritten = sftpHandle.writeNb(mem.subarray(ptr, ptr + nread))) === LIBSSH2_ERROR_EAGAIN) {
          await waitsocket(session);
        }
        ptr += nwritten;
        nread -= nwritten;
      } while (nread);
    } while (nwritten > 0);

    const duration = (Date.now() - start) / 1000;
    process.stderr.write(`${total} bytes in ${duration.toFixed(3)} seconds makes ${(total / Math.max(duration, 0.001)).toFixed(1)} bytes/sec\n`);

    await local.close();
    while (sftpHandle.closeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    while (sftpSession.shutdownNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
  } finally {
    // shutdown:
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
    await local.close().catch(() => undefined);
  }
  process.stderr.write('all done\n');
  return 0;
}

run(main);
