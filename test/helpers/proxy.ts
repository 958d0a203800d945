/** A loopback TCP proxy to the fixture's sshd, for cutting and stalling connections in tests. */
import * as net from 'net';
import { fixture } from '../fixtures';

export interface Proxy {
  port: number;
  /** Destroys every proxied connection (a cut in the middle of whatever runs). */
  cut(): void;
  /** Cuts, then stops listening. */
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free loopback port. `onClient(clientSide)` may throttle the client side
 * (e.g. pause/resume it) for each connection.
 */
export async function startProxy(onClient?: (client: net.Socket) => void): Promise<Proxy> {
  const f = fixture();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(f.port, f.host);
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on('error', () => undefined);
      sock.on('close', () => sockets.delete(sock));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    onClient?.(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cut = () => { for (const sock of sockets) sock.destroy(); };
  return {
    port: (server.address() as net.AddressInfo).port,
    cut,
    close: () => new Promise<void>((r) => { cut(); server.close(() => r()); }),
  };
}
