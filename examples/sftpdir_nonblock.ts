/**
 * Port of libssh2's example/sftpdir_nonblock.c: list a remote directory with SFTP in
 * non-blocking mode.
 *
 *   node -r ./scripts/register-ts.js examples/sftpdir_nonblock.ts 127.0.0.1 user password /tmp/secretdir
 */
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session, type Sftp, type SftpHandle } from '../lib';
import { connectTcp, fingerprintHex, LIBSSH2_ERROR_EAGAIN, listingLine, parseArgs, run, waitsocket } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, sftppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'sftppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', sftppath: '/tmp/secretdir' });
  const authPw = !useKey;

  // Connect to the server: opening the socket is the application's job.
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

    process.stderr.write('sftp.opendirNb().\n');
    // Request a dir listing via SFTP
    let sftpHandle: SftpHandle | typeof LIBSSH2_ERROR_EAGAIN;
    while ((sftpHandle = sftpSession.opendirNb(sftppath)) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);

    process.stderr.write('sftp.opendirNb() is done, now receive listing.\n');
    for (;;) {
      // Loop until the end of the listing; the C loop spins on EAGAIN, we wait for the socket.
      let entry;
      while ((entry = sftpHandle.readdirNb()) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
      if (entry) {
        // Name and attributes (this form has no long entry).
        const [mem, attrs] = entry;
        process.stdout.write(`${listingLine(mem, attrs)}\n`);
      } else {
        break;
      }
    }

    while (sftpHandle.closeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
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
