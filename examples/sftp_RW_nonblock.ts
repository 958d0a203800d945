/**
 * Port of libssh2's example/sftp_RW_nonblock.c: in non-blocking mode, download a remote file
 * into local temporary storage (echoing it to stderr), then upload that copy to a second remote
 * path. Like the C program it always connects to localhost (SSH_HOST overrides); the 5th
 * argument (an addition) names the local storage file.
 *
 *   node -r ./scripts/register-ts.js examples/sftp_RW_nonblock.ts user password /tmp/TEST /tmp/TEST2 [/tmp/sftp-storage]
 */
import * as fs from 'node:fs';
import {
  LIBSSH2_FXF_CREAT, LIBSSH2_FXF_READ, LIBSSH2_FXF_WRITE, LIBSSH2_HOSTKEY_HASH_SHA1, LIBSSH2_SFTP_S_IRGRP,
  LIBSSH2_SFTP_S_IROTH, LIBSSH2_SFTP_S_IRUSR, LIBSSH2_SFTP_S_IWUSR, Session, type Sftp, type SftpHandle,
} from '../lib';
import { connectTcp, fingerprintHex, LIBSSH2_ERROR_EAGAIN, parseArgs, run, waitsocket, writeAll } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, sftppath, dest, storage, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['username', 'password', 'sftppath', 'dest', 'storage'],
    { username: 'username', password: 'password', sftppath: '/tmp/TEST', dest: '/tmp/TEST2', storage: '/tmp/sftp-storage' });
  const authPw = !useKey;
  let tempstorage: fs.promises.FileHandle | undefined;

  // Connect to port 22 of localhost: opening the socket is the application's job.
  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  try {
    // Start it up: banners, key exchange, crypto, compression and MAC layers.
    await session.handshake(sock);

    session.setBlocking(false);

    // Not authenticated yet: check the host key's fingerprint against what we know.
    const fingerprint = session.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA1);
    process.stderr.write(`Fingerprint: ${fingerprintHex(fingerprint)}\n`);

    try {
      tempstorage = await fs.promises.open(storage, 'w');
    } catch {
      throw new Error(`Cannot open temp storage file ${storage}`);
    }

    if (authPw) {
      // Authenticate via password
      while (session.userauthPasswordNb(username, password) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    } else {
      // Or by public key
      while (session.userauthPublickeyFromfileNb(username, privkey, passphrase, pubkey) === LIBSSH2_ERROR_EAGAIN) {
        await waitsocket(session);
      }
    }

    let sftpSession: Sftp | typeof LIBSSH2_ERROR_EAGAIN;
    while ((sftpSession = session.sftpInitNb()) === LIBSSH2_ERROR_EAGAIN) {
      process.stderr.write('non-blocking init\n');
      await waitsocket(session); // now we wait
    }

    // Request a file via SFTP
    let sftpHandle: SftpHandle | typeof LIBSSH2_ERROR_EAGAIN;
    while ((sftpHandle = sftpSession.openNb(sftppath, LIBSSH2_FXF_READ, 0)) === LIBSSH2_ERROR_EAGAIN) {
      process.stderr.write('non-blocking open\n');
      await waitsocket(session); // now we wait
    }

    process.stderr.write('sftp.openNb() is done, now receive data.\n');
    for (;;) {
      let mem;
      do {
        // Read until it would block.
        mem = sftpHandle.readNb(1000);
        process.stderr.write(`handle.readNb returned ${mem === LIBSSH2_ERROR_EAGAIN ? 'EAGAIN' : mem.length}\n`);
        if (mem !== LIBSSH2_ERROR_EAGAIN && mem.length > 0) {
          // to stderr, and to the temporary storage
          await writeAll(mem, process.stderr);
          await tempstorage.write(mem);
        }
      } while (mem !== LIBSSH2_ERROR_EAGAIN && mem.length > 0);

      if (mem !== LIBSSH2_ERROR_EAGAIN) break; // end of file (errors throw)

      // The C program waits for readable or writable (select); waitsocket() waits for the
      // direction libssh2 needs.
      if (!(await waitsocket(session))) throw new Error('SFTP download timed out');
    }

    while (sftpHandle.closeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    await tempstorage.close();

    try {
      tempstorage = await fs.promises.open(storage, 'r');
    } catch {
      // Odd: we cannot read the file we just wrote.
      throw new Error(`Cannot open ${storage} for reading`);
    }

    // The download is done: now upload the stored copy to the destination path.
    let upload: SftpHandle | typeof LIBSSH2_ERROR_EAGAIN;
    try {
      while ((upload = sftpSession.openNb(dest, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT,
        LIBSSH2_SFTP_S_IRUSR | LIBSSH2_SFTP_S_IWUSR | LIBSSH2_SFTP_S_IRGRP | LIBSSH2_SFTP_S_IROTH)) === LIBSSH2_ERROR_EAGAIN) {
        await waitsocket(session);
      }
    } catch (e) {
      throw new Error(`SFTP failed to open destination path: ${dest} (${(e as Error).message})`, { cause: e });
    }
    const mem = Buffer.alloc(1000);
    for (;;) {
      let { bytesRead: nread } = await tempstorage.read(mem, 0, mem.length, null);
      if (nread <= 0) break; // end of file
      let ptr = 0;
      while (nread > 0) {
        // Write until it would block; then wait and repeat the same write.
        const nwritten = upload.writeNb(mem.subarray(ptr, ptr + nread));
        if (nwritten === LIBSSH2_ERROR_EAGAIN) {
          if (!(await waitsocket(session))) throw new Error('SFTP upload timed out');
          continue;
        }
        ptr += nwritten;
        nread -= nwritten;
      }
    }
    // (The C program leaves the handle open; closing it makes the server finish the file.)
    while (upload.closeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    process.stderr.write('SFTP upload done.\n');

    while (sftpSession.shutdownNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
  } finally {
    // shutdown: (teardown works in non-blocking mode too)
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
    await tempstorage?.close().catch(() => undefined);
  }
  process.stderr.write('all done\n');
  return 0;
}

run(main);
