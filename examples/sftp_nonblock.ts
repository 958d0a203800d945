/**
 * Port of libssh2's example/sftp_nonblock.c: download a file with SFTP in non-blocking mode and
 * write it to stdout, with timing.
 *
 *   node -r ./scripts/register-ts.js examples/sftp_nonblock.ts 127.0.0.1 user password /tmp/TEST > copy
 */
import { LIBSSH2_FXF_READ, LIBSSH2_HOSTKEY_HASH_SHA1, LIBSSH2_TRACE_CONN, Session, type Sftp, type SftpHandle } from '../lib';
import { connectTcp, fingerprintHex, LIBSSH2_ERROR_EAGAIN, parseArgs, run, waitsocket, writeAll } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, sftppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'sftppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', sftppath: '/tmp/TEST' });
  const authPw = !useKey;
  let spin = 0;
  let total = 0;

  // The application opens the socket and connects it.
  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  try {
    // We are non-blocking: tell libssh2.
    session.setBlocking(false);

    const start = Date.now();
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

    session.trace(LIBSSH2_TRACE_CONN);

    process.stderr.write('session.sftpInitNb().\n');
    let sftpSession: Sftp | typeof LIBSSH2_ERROR_EAGAIN;
    while ((sftpSession = session.sftpInitNb()) === LIBSSH2_ERROR_EAGAIN) {
      process.stderr.write('non-blocking init\n');
      await waitsocket(session); // now we wait
    }

    process.stderr.write('sftp.openNb().\n');
    // Request a file via SFTP
    let sftpHandle: SftpHandle | typeof LIBSSH2_ERROR_EAGAIN;
    while ((sftpHandle = sftpSession.openNb(sftppath, LIBSSH2_FXF_READ, 0)) === LIBSSH2_ERROR_EAGAIN) {
      process.stderr.write('non-blocking open\n');
      await waitsocket(session); // now we wait
    }

    process.stderr.write('sftp.openNb() is done, now receive data.\n');
    for (;;) {
      // Loop until we fail (or reach the end).
      let mem;
      while ((mem = sftpHandle.readNb(1024 * 24)) === LIBSSH2_ERROR_EAGAIN) {
        spin++;
        await waitsocket(session); // now we wait
      }
      if (mem.length > 0) {
        total += mem.length;
        await writeAll(mem);
      } else {
        break;
      }
    }

    const timeMs = Math.max(Date.now() - start, 1);
    process.stderr.write(`Got ${total} bytes in ${timeMs} ms = ${(total / (timeMs / 1000)).toFixed(1)} bytes/sec spin: ${spin}\n`);
    process.stderr.write(`Got ${total} bytes spin: ${spin}\n`);

    while (sftpHandle.closeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    while (sftpSession.shutdownNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
  } finally {
    // shutdown:
    process.stderr.write('session.disconnect\n');
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  process.stderr.write('all done\n');
  return 0;
}

run(main);
