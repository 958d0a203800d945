/**
 * Port of libssh2's example/sftpdir.c: list a remote directory with SFTP (blocking calls: the
 * async API). The authentication method is picked from what the server offers; `-p`, `-i` or
 * `-k` as 5th argument forces password, keyboard-interactive or public key.
 *
 *   node -r ./scripts/register-ts.js examples/sftpdir.ts 127.0.0.1 user password /tmp/secretdir [-p|-i|-k]
 */
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session } from '../lib';
import { connectTcp, failed, fingerprintHex, kbdCallback, listingLine, parseArgs, run } from './common';

async function main(): Promise<number> {
  const args = parseArgs(['hostname', 'username', 'password', 'sftppath', 'option'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', sftppath: '/tmp/secretdir', option: '' });
  const { hostname, port, username, password, sftppath, privkey, pubkey, passphrase } = args;
  const option = args.option || (args.useKey ? '-k' : '');
  let authPw = 0;

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

    // We never went non-blocking: tell libssh2 we are blocking (the async API: the default).
    session.setBlocking(true);

    process.stderr.write('sftp.opendir().\n');
    // Request a dir listing via SFTP
    const sftpHandle = await sftpSession.opendir(sftppath).catch(failed('Unable to open dir with SFTP'));
    process.stderr.write('sftp.opendir() is done, now receive listing.\n');
    for (;;) {
      // Loop until the end of the listing.
      const entry = await sftpHandle.readdir();
      if (!entry) break;
      const [mem, attrs, longentry] = entry;
      if (longentry !== '') process.stdout.write(`${longentry}\n`);
      else process.stdout.write(`${listingLine(mem, attrs)}\n`);
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
