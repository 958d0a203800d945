/**
 * Port of libssh2's example/sftp_mkdir.c: create a remote directory with SFTP (blocking calls:
 * the async API).
 *
 *   node -r ./scripts/register-ts.js examples/sftp_mkdir.ts 127.0.0.1 user password /tmp/sftp_mkdir
 */
import {
  LIBSSH2_HOSTKEY_HASH_SHA1, LIBSSH2_SFTP_S_IRGRP, LIBSSH2_SFTP_S_IROTH, LIBSSH2_SFTP_S_IRWXU, LIBSSH2_SFTP_S_IXGRP,
  LIBSSH2_SFTP_S_IXOTH, Session,
} from '../lib';
import { connectTcp, failed, fingerprintHex, parseArgs, run } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, sftppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'sftppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', sftppath: '/tmp/sftp_mkdir' });
  const authPw = !useKey;
  let rc = 0;

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

    // We never went non-blocking: tell libssh2 we are blocking (the async API: the default).
    session.setBlocking(true);

    // Make a directory via SFTP
    try {
      await sftpSession.mkdir(sftppath, LIBSSH2_SFTP_S_IRWXU | LIBSSH2_SFTP_S_IRGRP | LIBSSH2_SFTP_S_IXGRP |
        LIBSSH2_SFTP_S_IROTH | LIBSSH2_SFTP_S_IXOTH);
    } catch (e) {
      process.stderr.write(`sftp.mkdir failed: ${(e as Error).name}: ${(e as Error).message}\n`);
      rc = 1;
    }

    await sftpSession.shutdown();
  } finally {
    // shutdown:
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  process.stderr.write('all done\n');
  return rc;
}

run(main);
