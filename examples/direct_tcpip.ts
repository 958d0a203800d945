/**
 * Port of libssh2's example/direct_tcpip.c: listen on a local TCP port (node:net), and forward
 * the first connection through the SSH server to remote_desthost:remote_destport, which the
 * server resolves and connects to. Blocking calls (the async API) until the channel is open,
 * then non-blocking mode for the forwarding loop, as in the C program. `-p` or `-k` as 8th
 * argument forces password or public key. local_listenport 0 picks a free port (printed).
 *
 *   node -r ./scripts/register-ts.js examples/direct_tcpip.ts 127.0.0.1 user password \
 *     127.0.0.1 2222 localhost 22 [-p|-k]
 */
import * as net from 'node:net';
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session, type Channel } from '../lib';
import { connectTcp, failed, fingerprintHex, LIBSSH2_ERROR_EAGAIN, parseArgs, run, SocketReader, waitsocket } from './common';

const AUTH_NONE = 0;
const AUTH_PASSWORD = 1;
const AUTH_PUBLICKEY = 2;

async function main(): Promise<number> {
  const args = parseArgs(
    ['hostname', 'username', 'password', 'local_listenip', 'local_listenport', 'remote_desthost', 'remote_destport', 'option'],
    { hostname: '127.0.0.1', username: 'username', password: '', local_listenip: '127.0.0.1', local_listenport: '2222',
      remote_desthost: 'localhost', remote_destport: '22', option: '' });
  const { hostname, port, username, password, privkey, pubkey, passphrase, local_listenip, remote_desthost } = args;
  const localListenport = Number(args.local_listenport);
  const remoteDestport = Number(args.remote_destport);
  const option = args.option || (args.useKey ? '-k' : '');
  let auth = AUTH_NONE;
  let listensock: net.Server | undefined;
  let forwardsock: net.Socket | undefined;
  let channel: Channel | undefined;

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

    // Listen (SO_REUSEADDR is Node's default) and take the first connection.
    const server = net.createServer({ pauseOnConnect: true });
    listensock = server;
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`failed to bind(): ${e.message}`)));
      server.listen({ host: local_listenip, port: localListenport, backlog: 2 }, resolve);
    });
    const bound = server.address() as net.AddressInfo;
    process.stderr.write(`Waiting for TCP connection on ${bound.address}:${bound.port}...\n`);

    forwardsock = await accepted;
    const shost = forwardsock.remoteAddress ?? '127.0.0.1';
    const sport = forwardsock.remotePort ?? 0;
    process.stderr.write(`Forwarding connection from ${shost}:${sport} here to remote ${remote_desthost}:${remoteDestport}\n`);

    channel = await session.directTcpip(remote_desthost, remoteDestport, shost, sport).catch(failed(
      'Could not open the direct-tcpip channel. (This can be a problem at the server: see its logs.)'));

    // Non-blocking from here: one loop serves both directions.
    session.setBlocking(false);
    const reader = new SocketReader(forwardsock);
    for (;;) {
      // select() on the forwarded socket with a 100 ms timeout (here also woken by the SSH socket).
      await Promise.race([reader.select(100), session.waitSocket(100)]);
      const buf = reader.recv(16384);
      if (buf && buf.length === 0) {
        process.stderr.write(`The client at ${shost}:${sport} disconnected.\n`);
        break;
      }
      if (buf) {
        for (let wr = 0; wr < buf.length;) {
          const part = buf.subarray(wr);
          const nwritten = channel.writeNb(part);
          if (nwritten === LIBSSH2_ERROR_EAGAIN) {
            await waitsocket(session); // the C loop spins here
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
          process.stderr.write(`The server at ${remote_desthost}:${remoteDestport} disconnected.\n`);
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
    listensock?.close();
    await channel?.free();
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  return 0;
}

run(main);
