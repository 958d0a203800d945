/**
 * Port of libssh2's example/ssh2_echo.c: in non-blocking mode, run `cat` remotely, write 1.5 MB
 * to it while reading back what it echoes, and check that as much came back as went out.
 * The exit code is the remote command's (1 on a mismatch).
 *
 *   node -r ./scripts/register-ts.js examples/ssh2_echo.ts 127.0.0.1 user password
 */
import {
  LIBSSH2_KNOWNHOST_CHECK_MISMATCH, LIBSSH2_KNOWNHOST_KEYENC_RAW, LIBSSH2_KNOWNHOST_TYPE_PLAIN, LIBSSH2_TRACE_SOCKET,
  Session, type Channel,
} from '../lib';
import { connectTcp, LIBSSH2_ERROR_EAGAIN, parseArgs, run, waitsocket } from './common';

const BUFSIZE = 32000;

async function main(): Promise<number> {
  const { hostname, port, username, password, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password'], { hostname: '127.0.0.1', username: 'user', password: 'password' });
  const commandline = 'cat';
  let exitcode: number | null;

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
    } else if (useKey) {
      // (an addition: by public key)
      while (session.userauthPublickeyFromfileNb(username, privkey, passphrase, pubkey) === LIBSSH2_ERROR_EAGAIN) {
        await waitsocket(session);
      }
    }

    session.trace(LIBSSH2_TRACE_SOCKET);

    // Exec non-blocking on the remote host
    let channel: Channel | typeof LIBSSH2_ERROR_EAGAIN;
    while ((channel = session.openSessionNb()) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    while (channel.execNb(commandline) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);

    const buffer = Buffer.alloc(BUFSIZE, 'A');
    const totsize = 1500000;
    let totwritten = 0;
    let totread = 0;
    let rereads = 0;
    let rewrites = 0;
    let writing = true; // the C program's POLLOUT interest
    let running = true;

    // libssh2_poll() is deprecated (and not in this API): each round tries to read and to write,
    // and waits for the socket only when neither moved.
    while (running) {
      let act = 0;

      const n = channel.readNb(BUFSIZE);
      if (n === LIBSSH2_ERROR_EAGAIN) {
        rereads++;
      } else if (n.length > 0) {
        act++;
        totread += n.length;
        process.stderr.write(`read ${n.length} bytes (${totread} in total)\n`);
      } else {
        running = false; // EOF: the channel is done (the C program's POLLFD_CHANNEL_CLOSED)
      }

      if (writing) {
        if (totwritten < totsize) {
          // Not all written yet
          const left = totsize - totwritten;
          const size = Math.min(left, BUFSIZE);
          const w = channel.writeNb(buffer.subarray(0, size));
          if (w === LIBSSH2_ERROR_EAGAIN) {
            rewrites++;
            process.stderr.write('will write again\n');
          } else {
            act++;
            totwritten += w;
            process.stderr.write(`wrote ${w} bytes (${totwritten} in total)${left >= BUFSIZE && w !== BUFSIZE ? ' PARTIAL' : ''}\n`);
          }
        } else {
          // All written: send EOF
          if (channel.sendEofNb() === LIBSSH2_ERROR_EAGAIN) {
            process.stderr.write('will send eof again\n');
          } else {
            act++;
            process.stderr.write('sent eof\n');
            writing = false; // done writing: no more interest in writability
          }
        }
      }

      if (running && !act) await waitsocket(session);
    }

    exitcode = 127;
    while (channel.closeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    exitcode = channel.getExitStatus() ?? 127;
    const exitsignal = channel.getExitSignal().signal;
    if (exitsignal) process.stderr.write(`\nGot signal: ${exitsignal}\n`);

    while (channel.freeNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);

    process.stderr.write(`\nrereads: ${rereads} rewrites: ${rewrites} totwritten ${totwritten}\n`);
    if (totwritten !== totread) {
      process.stderr.write(`\n*** FAIL bytes written: ${totwritten} bytes read: ${totread} ***\n`);
      exitcode = 1;
    }
  } finally {
    // shutdown: (teardown works in non-blocking mode too)
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  process.stderr.write('all done\n');
  return exitcode;
}

run(main);
