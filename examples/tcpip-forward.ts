/**
 * Port of libssh2's example/tcpip-forward.c: ask the SSH server to listen on
 * remote_listenhost:remote_wantport (0: the server picks a port, printed), accept the first
 * connection made there, and forward it to local_destip:local_destport on this machine.
 * Blocking calls (the async API) until then, non-blocking mode for the forwarding loop, as in
 * the C program. `-p` or `-k` as 8th argument forces password or public key.
 *
 *   node -r ./scripts/register-ts.js examples/tcpip-forward.ts 127.0.0.1 user password \
 *     localhost 2222 127.0.0.1 22 [-p|-k]
 */
import * as net from 'node:net';
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session, type Channel, type Listener } from '../lib';
import { connectTcp, failed, fingerprintHex, LIBSSH2_ERROR_EAGAIN, parseArgs, run, SocketReader, waitsocket } from './common';

const AUTH_NONE = 0;
const AUTH_PASSWORD = 1;
const AUTH_PUBLICKEY = 2;

async function main(): Promise<number> {
  const args = parseArgs(
    ['hostname', 'username', 'password', 'remote_listenhost', 'remote_wantport', 'local_destip', 'local_destport', 'option'],
    { hostname: '127.0.0.1', username: 'username', password: '', remote_listenhost: 'localhost', remote_wantport: '2222',
      local_destip: '127.0.0.1', local_destport: '22', option: '' });
  const { hostname, port, username, password, privkey, pubkey, passphrase, remote_listenhost, local_destip } = args;
  const remoteWantport = Number(args.remote_wantport);
  const localDestport = Number(args.local_destport);
  const option = args.option || (args.useKey ? '-k' : '');
  let auth = AUTH_NONE;
  let listener: Listener | undefined;
  let channel: Channel | undefined;
  let forwardsock: net.Socket | undefined;

  // Connect to SSH server
  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  try {
    // Start it up: banners, key exchange, crypto, compression and MAC layers.
    await session.handshake(sock).catch(failed('Error when starting up SSH session'));

    // Not authenticated yet: check the host key's fingerprint against what we know.
    const fingerprint = session.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA1);
    process.stderr.write(`Fingerprint: ${fingerprintHex(fingerprint)}\n`);

    // Check what authentication methods are available
    const userauthlist = await session.userauthList(username);
    if (userauthlist) {
      process.stderr.write(`Authentication methods: ${userauthlist.join(',')}\n`);
      if (userauthlist.includes('password')) auth |= AUTH_PASSWORD;
      if (userauthlist.includes('publickey')) auth |= AUTH_PUBLICKEY;

      // Check for options
      if ((auth & AUTH_PASSWORD) && option === '-p') auth = AUTH_PASSWORD;
      if ((auth & AUTH_PUBLICKEY) && option === '-k') auth = AUTH_PUBLICKEY;

      if (auth & AUTH_PASSWORD) {
        await session.userauthPassword(username, password).catch(failed('Authentication by password failed.'));
      } else if (auth & AUTH_PUBLICKEY) {
        await session.userauthPublickeyFromfile(username, privkey, passphrase, pubkey)
          .catch(failed('Authentication by public key failed.'));
        process.stderr.write('Authentication by public key succeeded.\n');
      } else {
        throw new Error('No supported authentication methods found.');
      }
    }

    process.stderr.write(`Asking server to listen on remote ${remote_listenhost}:${remoteWantport}\n`);
    listener = await session.forwardListen(remoteWantport, remote_listenhost, 1).catch(failed(
      'Could not start the tcpip-forward listener. (This can be a problem at the server: see its logs.)'));
    const remoteListenport = listener.boundPort;
    process.stderr.write(`Server is listening on ${remote_listenhost}:${remoteListenport}\n`);

    process.stderr.write('Waiting for remote connection\n');
    channel = await listener.forwardAccept().catch(failed(
      'Could not accept connection. (This can be a problem at the server: see its logs.)'));

    process.stderr.write(`Accepted remote connection. Connecting to local server ${local_destip}:${localDestport}\n`);
    forwardsock = await connectTcp(local_destip, localDestport).catch(failed('failed to connect()'));
    process.stderr.write(`Forwarding connection from remote ${remote_listenhost}:${remoteListenport} to local ${local_destip}:${localDestport}\n`);

    // Non-blocking from here: one loop serves both directions.
    session.setBlocking(false);
    const reader = new SocketReader(forwardsock);
    for (;;) {
      // select() on the local socket with a 100 ms timeout (here also woken by the SSH socket).
      await Promise.race([reader.select(100), session.waitSocket(100)]);
      const buf = reader.recv(16384);
      if (buf && buf.length === 0) {
        process.stderr.write(`The local server at ${local_destip}:${localDestport} disconnected.\n`);
        break;
      }
      if (buf) {
        for (let wr = 0; wr < buf.length;) {
          const part = buf.subarray(wr);
          const nwritten = channel.writeNb(part);
          if (nwritten === LIBSSH2_ERROR_EAGAIN) {
            await waitsocket(session);
            continue;
          }
          wr += nwritten;
        }
      }
      let eof = false;
      for (;;) {
        const data = channel.readNb(16384);
        if (data === LIBSSH2_ERROR_EAGAIN) break;
        forwardsock.write(data);
        if (channel.eof()) {
          process.stderr.write(`The remote client at ${remote_listenhost}:${remoteListenport} disconnected.\n`);
          eof = true;
          break;
        }
      }
      if (eof) break;
    }
  } finally {
    // shutdown:
    forwardsock?.end();
    forwardsock?.destroySoon();
    await channel?.free();
    if (listener && !session.getBlocking()) {
      while (listener.forwardCancelNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    } else {
      await listener?.forwardCancel();
    }
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  return 0;
}

run(main);
