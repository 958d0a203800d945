/**
 * Port of libssh2's example/scp_write.c: upload a local file with SCP (blocking calls: the async
 * API).
 *
 *   node -r ./scripts/register-ts.js examples/scp_write.ts 127.0.0.1 user password scp_write.c /tmp/TEST
 */
import * as fs from 'node:fs';
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session } from '../lib';
import { connectTcp, failed, fingerprintHex, parseArgs, run } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, loclfile, scppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'loclfile', 'scppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', loclfile: 'scp_write.c', scppath: '/tmp/TEST' });
  const authPw = !useKey;

  let local: fs.promises.FileHandle;
  try {
    local = await fs.promises.open(loclfile, 'r');
  } catch {
    throw new Error(`Cannot open local file ${loclfile}`);
  }
  const fileinfo = await local.stat();

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

    // Send a file via SCP. The mode may only hold permission bits.
    const channel = await session.scpSend64(scppath, fileinfo.mode & 0o777, fileinfo.size).catch((e) => {
      const err = session.lastError();
      return failed(`Unable to open a session: (${err.errno}) ${err.message}`)(e);
    });

    process.stderr.write('SCP session waiting to send file\n');
    const mem = Buffer.alloc(1024);
    for (;;) {
      const { bytesRead: nread } = await local.read(mem, 0, mem.length, null);
      if (nread <= 0) break; // end of file
      // The async write sends all of it (the C loop over partial writes is inside).
      await channel.write(mem.subarray(0, nread)).catch(failed('ERROR'));
    }

    process.stderr.write('Sending EOF\n');
    await channel.sendEof();
    process.stderr.write('Waiting for EOF\n');
    await channel.waitEof();
    process.stderr.write('Waiting for channel to close\n');
    await channel.waitClosed();

    await channel.free();
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
