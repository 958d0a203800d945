/**
 * Port of libssh2's example/sftp.c: download a file with SFTP (blocking calls: the async API)
 * and write it to stdout. The authentication method is picked from what the server offers;
 * `-p`, `-i` or `-k` as 5th argument forces password, keyboard-interactive or public key.
 *
 *   node -r ./scripts/register-ts.js examples/sftp.ts 127.0.0.1 user password /tmp/TEST [-p|-i|-k] > copy
 */
import { LIBSSH2_FXF_READ, LIBSSH2_HOSTKEY_HASH_SHA1, Session } from '../lib';
import { connectTcp, failed, fingerprintHex, kbdCallback, parseArgs, run, writeAll } from './common';

async function main(): Promise<number> {
  const args = parseArgs(['hostname', 'username', 'password', 'sftppath', 'option'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', sftppath: '/tmp/TEST', option: '' });
  const { hostname, port, username, password, sftppath, privkey, pubkey, passphrase } = args;
  const option = args.option || (args.useKey ? '-k' : '');
  let authPw = 0;

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

    // Check what authentication methods are available
    const userauthlist = await session.userauthList(username);
    if (userauthlist) {
      process.stderr.write(`Authentication methods: ${userauthlist.join(',')}\n`);
      if (userauthlist.includes('password')) authPw |= 1;
      if (userauthlist.includes('keyboard-interactive')) authPw |= 2;
      if (userauthlist.includes('publickey')) authPw |= 4;

      // Check for options
      if ((authPw & 1) && option === '-p') authPw = 1;
      if ((authPw & 2) && option === '-i') authPw = 2;
      if ((authPw & 4) && option === '-k') authPw = 4;

      if (authPw & 1) {
        // We could authenticate via password
        await session.userauthPassword(username, password).catch(failed('Authentication by password failed.'));
      } else if (authPw & 2) {
        // Or via keyboard-interactive
        await session.userauthKeyboardInteractive(username, kbdCallback)
          .catch(failed('Authentication by keyboard-interactive failed.'));
        process.stderr.write('Authentication by keyboard-interactive succeeded.\n');
      } else if (authPw & 4) {
        // Or by public key
        await session.userauthPublickeyFromfile(username, privkey, passphrase, pubkey)
          .catch(failed('Authentication by public key failed.'));
        process.stderr.write('Authentication by public key succeeded.\n');
      } else {
        throw new Error('No supported authentication methods found.');
      }
    }

    process.stderr.write('session.sftpInit().\n');
    const sftpSession = await session.sftpInit().catch(failed('Unable to init SFTP session'));

    process.stderr.write('sftp.open().\n');
    // Request a file via SFTP
    const sftpHandle = await sftpSession.open(sftppath, LIBSSH2_FXF_READ, 0)
      .catch((e) => failed(`Unable to open file with SFTP: ${sftpSession.lastError()}`)(e));
    process.stderr.write('sftp.open() is done, now receive data.\n');
    for (;;) {
      // Loop until we fail (or reach the end).
      process.stderr.write('handle.read().\n');
      const mem = await sftpHandle.read(1024);
      if (mem.length > 0) await writeAll(mem);
      else break;
    }

    await sftpHandle.close();
    await sftpSession.shutdown();
  } finally {
    // shutdown:
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  process.stderr.write('all done\n');
  return 0;
}

run(main);
