/**
 * Port of libssh2's example/ssh2.c: authenticate (the method picked from what the server offers;
 * `-p`, `-i` or `-k` as 4th argument forces password, keyboard-interactive or public key), then
 * run a command (5th argument) and print its output (blocking calls: the async API). Public keys
 * are ~/.ssh/id_rsa{,.pub} unless SSH_KEY is set. The exit code is the command's.
 *
 *   node -r ./scripts/register-ts.js examples/ssh2.ts 127.0.0.1 user password -p "uname -a"
 */
import * as path from 'node:path';
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session, type Channel } from '../lib';
import { connectTcp, failed, fingerprintHex, parseArgs, run } from './common';

async function main(): Promise<number> {
  const args = parseArgs(['hostname', 'username', 'password', 'option', 'command'],
    { hostname: '127.0.0.1', username: 'username', password: 'password', option: '', command: '' });
  const { hostname, port, username, password, command, passphrase } = args;
  const option = args.option || (args.useKey ? '-k' : '');
  let authPw = 0;
  let rc: number;

  // Answers the one prompt of a keyboard-interactive login with the password.
  const kbdCallback = (_name: string, _instruction: string, prompts: { text: string }[]): string[] =>
    prompts.length === 1 ? [password] : prompts.map(() => '');

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
        process.stderr.write('Authentication by password succeeded.\n');
      } else if (authPw & 2) {
        // Or via keyboard-interactive
        await session.userauthKeyboardInteractive(username, kbdCallback)
          .catch(failed('Authentication by keyboard-interactive failed.'));
        process.stderr.write('Authentication by keyboard-interactive succeeded.\n');
      } else if (authPw & 4) {
        // Or by public key: the key files under $HOME (SSH_KEY/SSH_KEY_PUB replace them)
        const h = process.env.HOME || '.';
        const fn1 = args.useKey ? args.pubkey : path.join(h, '.ssh/id_rsa.pub');
        const fn2 = args.useKey ? args.privkey : path.join(h, '.ssh/id_rsa');
        await session.userauthPublickeyFromfile(username, fn2, passphrase, fn1)
          .catch(failed('Authentication by public key failed.'));
        process.stderr.write('Authentication by public key succeeded.\n');
      } else {
        throw new Error('No supported authentication methods found.');
      }
    }

    // Request a session channel to run a command (or a shell) on
    const channel: Channel = await session.openSession().catch(failed('Unable to open a session'));

    // Environment variables may be set; the server decides which ones it accepts.
    await channel.setenv('FOO', 'bar').catch(() => undefined);

    // For an interactive shell, request a terminal first ('vanilla' terminal emulation):
    //   await channel.requestPty('vanilla');

    if (command) {
      await channel.exec(command).catch(failed('Unable to request command on channel'));
      // Or, instead of one command, a shell for interactive use (after requestPty):
      //   await channel.shell();

      // From here: read(), readStderr(), write(), writeStderr(); eof() tells whether the
      // server sent EOF, sendEof() sends ours, close() and free() end the channel.

      // Print stdout until the channel's EOF (stderr is ignored: a command that writes much to
      // stderr fills the window and stalls; see ssh2_echo for a loop that reads both).
      while (!channel.eof()) {
        try {
          const buf = await channel.read(1024);
          process.stdout.write(buf);
        } catch (e) {
          process.stderr.write(`Unable to read response: ${(e as Error).message}\n`);
          break;
        }
      }
    }

    await channel.close().catch(() => process.stderr.write('Unable to close channel\n'));
    // Read once closed: the exit status has arrived by then.
    rc = channel.getExitStatus() ?? 0;
    await channel.free();

    // Other channel kinds: session.scpSend64(), scpRecv2(), directTcpip().
  } finally {
    // shutdown:
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  process.stderr.write('all done\n');
  return rc;
}

run(main);
