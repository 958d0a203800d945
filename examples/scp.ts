/**
 * Port of libssh2's example/scp.c: download a file with SCP (blocking calls: the async API) and
 * write it to stdout.
 *
 *   node -r ./scripts/register-ts.js examples/scp.ts 127.0.0.1 user password /tmp/TEST > copy
 */
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session } from '../lib';
import { connectTcp, failed, fingerprintHex, parseArgs, run, writeAll } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, scppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'scppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', scppath: '/tmp/TEST' });
  const authPw = !useKey;

  // Connect to the server: opening the socket is the application's job.
  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  try {
    // Start it up: banners, key exchange, crypto, compression and MAC layers.
    await session.handshake(sock).catch(failed('Failure establishing SSH session'));

    // Not authenticated yet: check the host key's fingerprint against what we know (a file, a
    // hard-coded value, the user: the application decides).
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

    // Request a file via SCP
    const { channel, stat: fileinfo } = await session.scpRecv2(scppath)
      .catch((e) => failed(`Unable to open a session: ${session.lastErrno()}`)(e));

    let got = 0;
    while (got < fileinfo.size) {
      // Read at most what is left of the file, 1 KiB at a time.
      const amount = Math.min(1024, fileinfo.size - got);
      const mem = await channel.read(amount).catch(failed('channel.read() failed'));
      if (mem.length === 0) throw new Error('channel.read(): unexpected EOF');
      await writeAll(mem);
      got += mem.length;
    }

    await channel.free();
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
