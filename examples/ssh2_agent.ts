/**
 * Port of libssh2's example/ssh2_agent.c: authenticate with the keys of the running ssh-agent
 * ($SSH_AUTH_SOCK), then open a shell on a pty (blocking calls: the async API). Like the C
 * program it stops right after the shell started.
 *
 *   node -r ./scripts/register-ts.js examples/ssh2_agent.ts 127.0.0.1 user
 */
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session, type Agent, type Channel } from '../lib';
import { connectTcp, failed, fingerprintHex, parseArgs, run } from './common';

async function main(): Promise<number> {
  const { hostname, port, username } = parseArgs(['hostname', 'username'], { hostname: '127.0.0.1', username: 'username' });
  let agent: Agent | undefined;
  let rc = 0;

  // Connect to the server: opening the socket is the application's job.
  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  try {
    await session.handshake(sock).catch(failed('Failure establishing SSH session'));

    // Not authenticated yet: check the host key's fingerprint against what we know.
    const fingerprint = session.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA1);
    process.stderr.write(`Fingerprint: ${fingerprintHex(fingerprint)}\n`);

    // Check what authentication methods are available
    const userauthlist = await session.userauthList(username);
    if (userauthlist) {
      process.stderr.write(`Authentication methods: ${userauthlist.join(',')}\n`);
      if (!userauthlist.includes('publickey')) throw new Error("'publickey' authentication is not supported");

      // Connect to the ssh-agent
      agent = session.agentInit();
      await agent.connect().catch(failed('Failure connecting to ssh-agent'));
      await agent.listIdentities().catch(failed('Failure requesting identities to ssh-agent'));
      rc = 1; // no identity worked (yet)
      for (const identity of agent.getIdentities()) {
        try {
          await agent.userauth(username, identity);
          process.stderr.write(`Authentication with username ${username} and public key ${identity.comment} succeeded.\n`);
          rc = 0;
          break;
        } catch {
          process.stderr.write(`Authentication with username ${username} and public key ${identity.comment} failed.\n`);
        }
      }
      if (rc) throw new Error('Could not continue authentication');
    }

    // We're authenticated now.

    // Request a shell
    const channel: Channel = await session.openSession().catch(failed('Unable to open a session'));

    // Environment variables may be set; the server decides which ones it accepts.
    await channel.setenv('FOO', 'bar').catch(() => undefined);

    // Request a terminal with 'vanilla' terminal emulation (see terminfo for others): useful
    // for an interactive shell.
    let shell = true;
    try {
      await channel.requestPty('vanilla');
    } catch {
      process.stderr.write('Failed requesting pty\n');
      shell = false; // skip_shell
    }

    if (shell) {
      // Open a SHELL on that pty
      await channel.shell().catch(failed('Unable to request shell on allocated pty'));
      // From here: read(), readStderr(), write(), writeStderr(); eof() tells whether the
      // server sent EOF, sendEof() sends ours, close() and free() end the channel.
    }

    // skip_shell:
    await channel.free();

    // Other channel kinds: session.scpSend64(), scpRecv2(), directTcpip().
  } finally {
    // shutdown:
    if (agent) {
      await agent.disconnect().catch(() => undefined);
      agent.free();
    }
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  process.stderr.write('all done\n');
  return rc;
}

run(main);
