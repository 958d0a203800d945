/**
 * Issue 11, PITFALLS section 8: malformed packets from a server that holds the session keys, sent
 * from below the `ssh2` package's Server (its Protocol object and cipher): a chacha20-poly1305
 * packet whose length is below 5 (deps/patches/chacha-length-underflow.patch; 1.11.1 made a
 * memmove of about 2^64 bytes), and a SERVICE_ACCEPT that announces a name it does not carry
 * (deps/patches/session-startup-overflow.patch; 1.11.1 compared past the end of the payload).
 */
import type { ServerConnection } from 'ssh2';
import { DecryptError, LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC, ProtoError, Session } from '../../lib';
import { tcp } from '../helpers/connect';
import { protocolOf, sendRawDirect, startScriptedServer, type ScriptedServer, type Ssh2Protocol } from '../fixtures/scripted-ssh-server';

const SESSION_TIMEOUT = 15000;

type Hook = (conn: ServerConnection) => void;

let server: ScriptedServer;
let port: number;
let hook: Hook | undefined;

beforeAll(async () => {
  // The hook runs before the password is accepted (startScriptedServer's order).
  server = await startScriptedServer((conn) => hook?.(conn));
  port = server.port;
});

afterAll(async () => {
  await server.close();
});

describe('malformed packets from a server holding the keys', () => {
  it('a chacha20-poly1305 packet of length 1 with a valid tag fails with DecryptError (no underflow)', async () => {
    hook = (conn) => {
      // Once authentication starts the transport is encrypted: the next packet the server sends
      // (its answer to the password) is replaced by a 1-byte packet with a correct Poly1305 tag.
      conn.on('authentication', () => {
        const proto = protocolOf(conn);
        const cipher = proto._cipher;
        const encrypt = cipher.encrypt.bind(cipher);
        cipher.encrypt = () => {
          cipher.encrypt = encrypt;
          // <packet length 1> <padding length 0>, plus room for the tag when the cipher is the
          // native binding (it encrypts in place and writes the tag at the end)
          const tiny = Buffer.alloc(cipher._instance ? 5 + 16 : 5);
          tiny.writeUInt32BE(1, 0);
          encrypt(tiny);
        };
      });
    };
    const s = new Session();
    s.setTimeout(SESSION_TIMEOUT);
    s.methodPref(LIBSSH2_METHOD_CRYPT_CS, 'chacha20-poly1305@openssh.com');
    s.methodPref(LIBSSH2_METHOD_CRYPT_SC, 'chacha20-poly1305@openssh.com');
    await s.handshake(await tcp('127.0.0.1', port));
    const err = await s.userauthPassword('hostile', 'any').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DecryptError);
    expect(s.closed).toBe(true);
    await s.close();
    hook = undefined;
  });

  it('a SERVICE_ACCEPT announcing a 12-byte name and carrying none fails with ProtoError "Unexpected packet length"', async () => {
    hook = (conn) => {
      const proto: Ssh2Protocol = protocolOf(conn);
      proto.serviceAccept = () => {
        const payload = Buffer.alloc(5);
        payload[0] = 6; // SSH_MSG_SERVICE_ACCEPT
        payload.writeUInt32BE(12, 1); // "ssh-userauth".length, and no name after it
        sendRawDirect(conn, payload);
      };
    };
    const s = new Session();
    s.setTimeout(SESSION_TIMEOUT);
    const err = await s.handshake(await tcp('127.0.0.1', port)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProtoError);
    // Without the patch libssh2 compared "ssh-userauth" with the 12 bytes past the payload
    // (padding and MAC) and failed later, with "Invalid response received from server".
    expect((err as Error).message).toMatch(/Unexpected packet length/);
    await s.close();
    hook = undefined;
  });
});
