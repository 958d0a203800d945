/**
 * Port of libssh2's example/sftp_mkdir_nonblock.c: connect and start SFTP with blocking calls
 * (the async API), then switch to non-blocking mode to create a remote directory.
 *
 *   node -r ./scripts/register-ts.js examples/sftp_mkdir_nonblock.ts 127.0.0.1 user password /tmp/sftp_mkdir_nonblock
 */
import {
  LIBSSH2_HOSTKEY_HASH_SHA1, LIBSSH2_SFTP_S_IRGRP, LIBSSH2_SFTP_S_IROTH, LIBSSH2_SFTP_S_IRWXU, LIBSSH2_SFTP_S_IXGRP,
  LIBSSH2_SFTP_S_IXOTH, Session,
} from '../lib';
import { connectTcp, failed, fingerprintHex, LIBSSH2_ERROR_EAGAIN, parseArgs, run, waitsocket } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, sftppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'sftppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', sftppath: '/tmp/sftp_mkdir_nonblock' });
  const authPw = !useKey;

  // Connect to the server: opening the socket is the application's job.
  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  try {
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

    const sftpSession = await session.sftpInit().catch(failed('Unable to init SFTP session'));

    // From here on non-blocking: tell libssh2.
    session.setBlocking(false);

    // Make a directory via SFTP (the C loop spins; here we wait for the socket in between).
    while (sftpSession.mkdirNb(sftppath, LIBSSH2_SFTP_S_IRWXU | LIBSSH2_SFTP_S_IRGRP | LIBSSH2_SFTP_S_IXGRP |
      LIBSSH2_SFTP_S_IROTH | LIBSSH2_SFTP_S_IXOTH) === LIBSSH2_ERROR_EAGAIN) {
      await waitsocket(session);
    }

    while (sftpSession.shutdownNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
  } finally {
    // shutdown: (teardown works in non-blocking mode too)
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  process.stderr.write('all done\n');
  return 0;
}

run(main);
