/**
 * Port of libssh2's example/x11.c: an interactive shell on a pty with X11 forwarding (blocking
 * calls: the async API). X clients started in that shell reach the local X server of $DISPLAY
 * (a unix socket /tmp/.X11-unix/X<n>; X11_UNIX_DIR replaces the directory); stdin goes to the
 * shell (raw mode on a terminal), the shell's output to stdout. The 4th argument turns on
 * libssh2's trace.
 *
 *   node -r ./scripts/register-ts.js examples/x11.ts 127.0.0.1 user password [DEBUG]
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { LIBSSH2_TRACE_CONN, Session, type Channel } from '../lib';
import { connectTcp, failed, parseArgs, run } from './common';

/** The C program's _PATH_UNIX_X: where the X server of display n listens. */
const PATH_UNIX_X = (n: number): string => path.join(process.env.X11_UNIX_DIR ?? '/tmp/.X11-unix', `X${n}`);

/** The X11 connections in progress: a channel and the socket to our X server (the C list). */
interface ChanX11 { chan: Channel; sock: net.Socket }
const gpX11Chan = new Set<ChanX11>();

/**
 * The X11 callback: a new X11 channel from the server. Connect to the local display (as
 * OpenSSH's x11_connect_display does), remember the pair and start passing data.
 */
function x11Callback(channel: Channel): void {
  const display = process.env.DISPLAY;
  if (!display || !(display.startsWith('unix:') || display.startsWith(':'))) {
    void channel.free(); // nowhere to connect to
    return;
  }
  // Connect to the local unix domain
  const displayPort = parseInt(display.slice(display.lastIndexOf(':') + 1), 10);
  const sock = net.connect(PATH_UNIX_X(displayPort));
  sock.once('connect', () => {
    // Connection successful
    const node = { chan: channel, sock };
    gpX11Chan.add(node);
    void x11SendReceive(channel, sock).finally(() => {
      // One side closed: close the socket and drop the node.
      sock.destroy();
      void channel.free().catch(() => undefined);
      gpX11Chan.delete(node);
    });
  });
  sock.once('error', () => {
    sock.destroy();
    void channel.free().catch(() => undefined);
  });
}

/**
 * Passes data between an X11 channel and the X server's socket until either side ends. (The C
 * program polls both once per round of its main loop; async reads do the waiting here.)
 */
async function x11SendReceive(channel: Channel, sock: net.Socket): Promise<void> {
  const fromChannel = (async () => {
    for (;;) {
      const buf = await channel.read(8192);
      if (buf.length === 0) return; // channel EOF
      sock.write(buf);
    }
  })();
  const fromSocket = (async () => {
    // Data in sock
    for await (const buf of sock) await channel.write(buf as Buffer);
  })();
  await Promise.race([fromChannel, fromSocket]).catch(() => undefined);
}

async function main(): Promise<number> {
  if (process.argv.length < 5 && !process.env.SSH_USER) {
    throw new Error(`Usage: ${process.argv[1]} destination username password`);
  }
  const { hostname, port, username, password, debug, useKey, privkey, pubkey, passphrase } = parseArgs(
    ['hostname', 'username', 'password', 'debug'], { hostname: '127.0.0.1', username: '', password: '', debug: '' });
  const setDebugOn = debug !== '';
  if (setDebugOn) process.stderr.write('DEBUG is ON: 1\n');

  const sock = await connectTcp(hostname, port);

  // Open a session
  const session = new Session();
  let rawMode = false;
  try {
    await session.handshake(sock).catch(failed('Failed Start the SSH session'));

    if (setDebugOn) session.trace(LIBSSH2_TRACE_CONN);

    // Set the X11 callback
    session.setX11Handler(x11Callback);

    // Authenticate via password (or, an addition, by public key)
    if (useKey) {
      await session.userauthPublickeyFromfile(username, privkey, passphrase, pubkey).catch(failed('Failed to authenticate'));
    } else {
      await session.userauthPassword(username, password).catch(failed('Failed to authenticate'));
    }

    // Open a channel
    const channel = await session.openSession().catch(failed('Failed to open a new channel'));

    // Request a PTY
    await channel.requestPty('xterm').catch(failed('Failed to request a pty'));

    // Request X11
    await channel.x11Req(0).catch(failed('Failed to request X11 forwarding'));

    // Request a shell
    await channel.shell().catch(failed('Failed to open a shell'));

    if (process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      rawMode = true;
    }

    // Send the terminal size now and whenever it changes.
    const sendSize = (): void => {
      if (process.stdout.isTTY) void channel.requestPtySize(process.stdout.columns, process.stdout.rows).catch(() => undefined);
    };
    sendSize();
    process.stdout.on('resize', sendSize);

    // Data in stdin goes to the shell.
    const onInput = (buf: Buffer): void => {
      void channel.write(buf).catch(() => undefined);
    };
    process.stdin.on('data', onInput);

    try {
      // The shell's output, until the channel's EOF (the X11 pairs run meanwhile).
      for (;;) {
        const buf = await channel.read(8192);
        if (buf.length === 0 && channel.eof()) break;
        process.stdout.write(buf);
      }
    } finally {
      process.stdin.off('data', onInput);
      process.stdin.pause();
      process.stdout.off('resize', sendSize);
    }

    await channel.free();
  } finally {
    if (rawMode) process.stdin.setRawMode(false);
    for (const node of gpX11Chan) node.sock.destroy();
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  return 0;
}

run(main);
