/**
 * Port of libssh2's example/scp_write_nonblock.c: upload a local file with SCP in non-blocking
 * mode, with the transfer rate.
 *
 *   node -r ./scripts/register-ts.js examples/scp_write_nonblock.ts 127.0.0.1 user password scp_write.c /tmp/TEST
 */
import * as fs from 'node:fs';
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session, type Channel } from '../lib';
import { connectTcp, fingerprintHex, LIBSSH2_ERROR_EAGAIN, parseArgs, run, waitsocket } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, loclfile, scppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'loclfile', 'scppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', loclfile: 'scp_write.c', scppath: '/tmp/TEST' });
  const authPw = !useKey;
  let total = 0;

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

    // Send a file via SCP. The mode may only hold permission bits.
    let channel: Channel | typeof LIBSSH2_ERROR_EAGAIN;
    while ((channel = session.scpSend64Nb(scppath, fileinfo.mode & 0o777, fileinfo.size)) === LIBSSH2_ERROR_EAGAIN) {
      await waitsocket(session);
    }

    process.stderr.write('SCP session waiting to send file\n');
    const start = Date.now();
    const mem = Buffer.alloc(1024 * 100);
    let nread: number;
    do {
      ({ bytesRead: nread } = await local.read(mem, 0, mem.length, null));
      if (nread <= 0) break; // end of file
      let ptr = 0;
      total += nread;
      do {
        let nwritten;
        // Repeat the same write (same bytes) while it would block.
        while ((nwritten = channel.writeNb(mem.subarray(ptr, ptr + nread))) === LIBSSH2_ERROR_EAGAIN) {
          await waitsocket(session);
        }
        // nwritten: how many bytes went this time
        ptr += nwritten;
        nread -= nwritten;
      } while (nread);
    } while (!nread); // go on only once the chunk is drained

    const duration = (Date.now() - start) / 1000;
    process.stderr.write(`${total} bytes in ${duration.toFixed(3)} seconds makes ${(total / Math.max(duration, 0.001)).toFixed(1)} bytes/sec\n`);

    process.stderr.write('Sending EOF\n');
    while (channel.sendEofNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    process.stderr.write('Waiting for EOF\n');
    while (channel.waitEofNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    process.stderr.write('Waiting for channel to close\n');
    while (channel.waitClosedNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);

    while (channel.freeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
  } finally {
    // shutdown: (teardown works in non-blocking mode too)
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
    await local.close();
  }
  process.stderr.write('all done\n');
  return 0;
}

run(main);
