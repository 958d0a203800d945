/**
 * Port of libssh2's example/ssh2_agent_forwarding.c: authenticate with the running ssh-agent
 * ($SSH_AUTH_SOCK), then in non-blocking mode request agent forwarding on a channel and run a
 * command there (one that uses the agent, e.g. `ssh-add -l`).
 *
 *   node -r ./scripts/register-ts.js examples/ssh2_agent_forwarding.ts 127.0.0.1 user "ssh-add -l"
 */
import { Session, type Channel } from '../lib';
import { connectTcp, failed, LIBSSH2_ERROR_EAGAIN, parseArgs, run, waitsocket } from './common';

async function main(): Promise<number> {
  if (process.argv.length < 4 && !(process.env.SSH_HOST && process.env.SSH_USER)) {
    throw new Error('At least IP and username arguments are required.');
  }
  const { hostname, port, username, commandline } = parseArgs(['hostname', 'username', 'commandline'],
    { hostname: '127.0.0.1', username: '', commandline: 'uptime' });
  let bytecount = 0;

  // Connect to the server: opening the socket is the application's job.
  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  const agent = session.agentInit();
  try {
    await session.handshake(sock).catch(failed('Failure establishing SSH session'));

    // Connect to the ssh-agent
    await agent.connect().catch(failed('Failure connecting to ssh-agent'));
    await agent.listIdentities().catch(failed('Failure requesting identities to ssh-agent'));
    let rc = 1; // no identity worked (yet)
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

    // The C program traces everything here (libssh2_trace(session, ~0)); set TRACE=1 for that.
    if (process.env.TRACE) session.trace(~0);

    // libssh2 hands the agent channels the server opens to a callback; this one pipes them to
    // the local agent (C programs set LIBSSH2_CALLBACK_AUTHAGENT for that).
    session.setAgentForwarding(process.env.SSH_AUTH_SOCK);

    // Set session to non-blocking
    session.setBlocking(false);

    // Exec non-blocking on the remote host
    let channel: Channel | typeof LIBSSH2_ERROR_EAGAIN;
    while ((channel = session.openSessionNb()) === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);

    try {
      while (channel.requestAuthAgentNb() === LIBSSH2_ERROR_EAGAIN) await waitsocket(session);
    } catch (e) {
      failed('Error, could not request auth agent')(e);
    }
    process.stdout.write('Agent forwarding request succeeded.\n');

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
    agent.free();
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  process.stderr.write('all done\n');
  return 0;
}

run(main);
