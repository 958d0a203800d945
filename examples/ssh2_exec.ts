/**
 * Port of libssh2's example/ssh2_exec.c: run one command remotely in non-blocking mode.
 *
 *   node -r ./scripts/register-ts.js examples/ssh2_exec.ts 127.0.0.1 user password "uptime"
 */
import {
  LIBSSH2_KNOWNHOST_CHECK_MISMATCH, LIBSSH2_KNOWNHOST_KEYENC_RAW, LIBSSH2_KNOWNHOST_TYPE_PLAIN, Session, type Channel,
} from '../lib';
import { connectTcp, LIBSSH2_ERROR_EAGAIN, parseArgs, run, waitsocket } from './common';

async function main(): Promise<number> {
  const { hostname, port, username, password, commandline, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'commandline'],
    { hostname: '127.0.0.1', username: 'user', password: 'password', commandline: 'uptime' });
  let bytecount = 0;

  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  try {
    // We want it all done non-blocking.
    session.setBlocking(false);

    // Start it up: banners, key exchange, crypto, compression and MAC layers.
    while (session.handshakeNb(sock) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);

    const nh = session.knownhostInit();
    // Read all hosts from here (a missing file is no error here).
    try {
      nh.readfile('known_hosts');
    } catch { /* none yet */ }
    // Store all known hosts to here.
    nh.writefile('dumpfile');

    const hostkey = session.hostkey();
    if (!hostkey) return 3;
    const check = nh.checkp(hostname, port, hostkey.key, LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW);
    process.stderr.write(`Host check: ${check.result}, key: ${
      check.result <= LIBSSH2_KNOWNHOST_CHECK_MISMATCH && check.host ? check.host.key : '<none>'}\n`);
    // Here we could bail out unless `check` says the key is fine.
    nh.free();

    if (password !== '' && !useKey) {
      // Authenticate via password
      while (session.userauthPasswordNb(username, password) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    } else {
      // Or by public key
      while (session.userauthPublickeyFromfileNb(username, privkey, passphrase, pubkey) === LIBSSH2_ERROR_EAGAIN) {
        await waitsocket(session);
      }
    }

    // Exec non-blocking on the remote host
    let channel: Channel | typeof LIBSSH2_ERROR_EAGAIN;
    while ((channel = session.openSessionNb()) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    while (channel.execNb(commandline) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);

    for (;;) {
      // Read until it would block.
      let nread: Buffer | typeof LIBSSH2_ERROR_EAGAIN;
      do {
        nread = channel.readNb(0x4000);
        if (nread !== LIBSSH2_ERROR_EAGAIN && nread.length > 0) {
          bytecount += nread.length;
          process.stderr.write('We read:\n');
          process.stderr.write(nread);
          process.stderr.write('\n');
        } else if (nread !== LIBSSH2_ERROR_EAGAIN) {
          process.stderr.write('channel.readNb returned 0 (EOF)\n');
        }
      } while (nread !== LIBSSH2_ERROR_EAGAIN && nread.length > 0);

      // Would block: wait for the socket, then read again. Anything else (EOF) ends the loop.
      if (nread === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
      else break;
    }

    while (channel.closeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    const exitcode = channel.getExitStatus() ?? 127;
    const exitsignal = channel.getExitSignal().signal;

    if (exitsignal) process.stderr.write(`\nGot signal: ${exitsignal}\n`);
    else process.stderr.write(`\nEXIT: ${exitcode} bytecount: ${bytecount}\n`);

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
