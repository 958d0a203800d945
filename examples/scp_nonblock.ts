/**
 * Port of libssh2's example/scp_nonblock.c: download a file with SCP in non-blocking mode and
 * write it to stdout, with timing.
 *
 *   node -r ./scripts/register-ts.js examples/scp_nonblock.ts 127.0.0.1 user password /tmp/TEST > copy
 */
import { LIBSSH2_HOSTKEY_HASH_SHA1, LIBSSH2_TRACE_CONN, Session } from '../lib';
import { connectTcp, fingerprintHex, LIBSSH2_ERROR_EAGAIN, parseArgs, run, waitsocket, writeAll } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, scppath, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'scppath'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', scppath: '/tmp/TEST' });
  const authPw = !useKey;
  let spin = 0;
  let got = 0;
  let total = 0;

  // Connect to the server: opening the socket is the application's job.
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

    // Request a file via SCP
    process.stderr.write('session.scpRecv2Nb().\n');
    let recv;
    while ((recv = session.scpRecv2Nb(scppath)) === LIBSSH2_ERROR_EAGAIN) {
      process.stderr.write('session.scpRecv2Nb() spin\n');
      await waitsocket(session);
    }
    const { channel, stat: fileinfo } = recv;
    process.stderr.write('session.scpRecv2Nb() is done, now receive data.\n');

    while (got < fileinfo.size) {
      let mem;
      do {
        // Read until it would block, never past the end of the file.
        const amount = Math.min(1024 * 24, fileinfo.size - got);
        mem = channel.readNb(amount);
        if (mem !== LIBSSH2_ERROR_EAGAIN && mem.length > 0) {
          await writeAll(mem);
          got += mem.length;
          total += mem.length;
        }
      } while (mem !== LIBSSH2_ERROR_EAGAIN && mem.length > 0 && got < fileinfo.size);

      if (mem === LIBSSH2_ERROR_EAGAIN && got < fileinfo.size) {
        // It would block: wait for the socket, then loop.
        spin++;
        await waitsocket(session);
        continue;
      }
      if (mem !== LIBSSH2_ERROR_EAGAIN && mem.length === 0) throw new Error('channel.readNb(): unexpected EOF');
    }

    const timeMs = Math.max(Date.now() - start, 1);
    process.stderr.write(`Got ${total} bytes in ${timeMs} ms = ${(total / (timeMs / 1000)).toFixed(1)} bytes/sec spin: ${spin}\n`);
    process.stderr.write(`Got ${total} bytes spin: ${spin}\n`);

    while (channel.freeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
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
