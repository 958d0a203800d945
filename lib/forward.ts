/** Node-native port forwarding on top of `directTcpip` and `forwardListen`. */
import * as net from 'net';
import { pipeline } from 'stream';
import type { Session } from './session';
import type { Channel } from './channel';
import type { Listener } from './listener';
import { channelStream } from './stream';

/** Pipes a socket and a channel both ways (backpressure both ways); ends/destroys together. */
export function bridge(socket: net.Socket, channel: Channel): void {
  const stream = channelStream(channel);
  stream.stderr.resume(); // nothing is expected there; never let it fill the window
  stream.stderr.on('error', () => stream.destroy()); // (an unhandled 'error' would end the process)
  pipeline(socket, stream, socket, () => {
    socket.destroy();
    stream.destroy();
  });
}

/**
 * A local TCP server (on `localPort`, 0 = any, of `localHost`) whose connections go through
 * the session to `remoteHost:remotePort` (as seen from the server). Close it with `close()`.
 */
export async function forwardLocal(session: Session, localPort: number, remoteHost: string, remotePort: number,
  localHost = '127.0.0.1'): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.pause();
    session.directTcpip(remoteHost, remotePort, socket.remoteAddress ?? '127.0.0.1', socket.remotePort ?? 0).then(
      (channel) => bridge(socket, channel),
      (e) => socket.destroy(e as Error),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(localPort, localHost, () => resolve());
  });
  return server;
}

/** A remote forward: the server listens, each connection is bridged to `localHost:localPort`. */
export interface RemoteForward {
  /** The port the server listens on. */
  readonly boundPort: number;
  readonly listener: Listener;
  /** Stops listening (open connections stay until they end). */
  close(): Promise<void>;
}

/**
 * The server listens on `remotePort` (0: it picks one) and every connection to it is piped to
 * `localHost:localPort` on this machine.
 */
export async function forwardRemote(session: Session, remotePort: number, localHost: string, localPort: number,
  remoteHost?: string): Promise<RemoteForward> {
  const listener = await session.forwardListen(remotePort, remoteHost);
  let open = true;
  const accepting = (async () => {
    while (open) {
      let channel: Channel;
      try {
        channel = await listener.forwardAccept();
      } catch {
        return; // cancelled, or the session ended
      }
      const socket = net.connect(localPort, localHost);
      socket.once('connect', () => bridge(socket, channel));
      socket.once('error', () => { void channel.free(); });
    }
  })();
  return {
    boundPort: listener.boundPort,
    listener,
    async close() {
      open = false;
      await listener.forwardCancel();
      await accepting;
    },
  };
}

/**
 * Serves one auth-agent channel the server opened: its bytes go to the local agent socket at
 * `agentPath` and back; the channel is freed when either side ends. An unreachable agent frees
 * the channel at once (the remote agent client sees the connection end).
 */
export function serveAgentChannel(channel: Channel, agentPath: string): void {
  const socket = net.connect(agentPath);
  let connected = false;
  socket.once('connect', () => {
    connected = true;
    bridge(socket, channel);
  });
  socket.once('error', () => {
    if (!connected) void channel.free().catch(() => undefined); // once connected, bridge() handles errors
  });
}
