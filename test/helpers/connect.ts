/** Small helpers for tests: sockets to the fixture, authenticated sessions. */
import * as net from 'net';
import { Session } from '../../lib';
import { fixture } from '../fixtures';

/** A net.Socket connected to the fixture (waits for 'connect'). */
export function tcp(host = fixture().host, port = fixture().port): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** A handshaken session over a fresh TCP connection. */
export async function handshaken(prep?: (s: Session) => void): Promise<Session> {
  const s = new Session();
  prep?.(s);
  await s.handshake(await tcp());
  return s;
}

/** A session authenticated with the fixture's ed25519 key. */
export async function authenticated(): Promise<Session> {
  const f = fixture();
  const s = await handshaken();
  await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
  return s;
}
