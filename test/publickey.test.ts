import * as crypto from 'crypto';
import * as net from 'net';
import { Session, PublicKeySubsystem, PublickeyProtocolError, BadUseError, Libssh2Error } from '../lib';
import { fixture } from './fixtures';
import { startPublickeyServer, type PublickeyServer } from './fixtures/publickey-server';
import { tcp } from './helpers/connect';

/** An SSH wire-format ed25519 public key blob. */
function ed25519Blob(): Buffer {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
}

describe('publickey subsystem (RFC 4819, scripted ssh2 server)', () => {
  let server: PublickeyServer;

  beforeAll(async () => {
    server = await startPublickeyServer();
  });
  afterAll(async () => {
    await server.close();
  });

  async function session(): Promise<Session> {
    const s = new Session();
    s.setTimeout(20000);
    await s.handshake(await tcp(server.host, server.port));
    await s.userauthPassword('tester', 'any');
    return s;
  }

  it('init, add with attributes, list, remove, shutdown', async () => {
    const s = await session();
    const pk = await s.publickeyInit();
    expect(pk).toBeInstanceOf(PublicKeySubsystem);
    expect(server.requests).toContain('version');
    expect(await pk.list()).toEqual([]);

    const a = ed25519Blob();
    const b = ed25519Blob();
    await pk.add('ssh-ed25519', a, false, [{ name: 'comment', value: 'first key', mandatory: false }]);
    await pk.add('ssh-ed25519', b, false, [
      { name: 'comment', value: 'second', mandatory: false },
      { name: 'command-override', value: 'echo hi', mandatory: true },
    ]);
    // What the server received, critical flags included.
    expect(server.keys[1].attrs).toEqual([
      { name: 'comment', value: 'second', critical: false },
      { name: 'command-override', value: 'echo hi', critical: true },
    ]);
    const listed = await pk.list();
    expect(listed).toEqual([
      { name: 'ssh-ed25519', blob: a, attrs: [{ name: 'comment', value: 'first key', mandatory: false }] },
      {
        name: 'ssh-ed25519',
        blob: b,
        attrs: [
          { name: 'comment', value: 'second', mandatory: false },
          { name: 'command-override', value: 'echo hi', mandatory: false }, // libssh2 does not parse it
        ],
      },
    ]);

    await pk.remove('ssh-ed25519', a);
    expect((await pk.list()).map((k) => k.blob)).toEqual([b]);
    await pk.remove('ssh-ed25519', b);
    expect(await pk.list()).toEqual([]);
    await pk.shutdown();
    await pk.shutdown(); // idempotent
    await expect(pk.list()).rejects.toBeInstanceOf(BadUseError);
    // The session goes on.
    expect(s.closed).toBe(false);
    const again = await s.publickeyInit();
    expect(await again.list()).toEqual([]);
    await again.shutdown();
    await s.close();
  });

  it('server refusals reject with PublickeyProtocolError and the status text; the subsystem stays usable', async () => {
    const s = await session();
    const pk = await s.publickeyInit();
    const k = ed25519Blob();
    await pk.add('ssh-ed25519', k);
    const dup = await pk.add('ssh-ed25519', k).catch((e) => e);
    expect(dup).toBeInstanceOf(PublickeyProtocolError);
    expect(dup.message).toMatch(/key already present/);
    await pk.add('ssh-ed25519', k, true, [{ name: 'comment', value: 'replaced', mandatory: false }]); // overwrite
    expect((await pk.list()).map((e) => e.attrs[0]?.value)).toEqual(['replaced']);
    await pk.remove('ssh-ed25519', k);
    const missing = await pk.remove('ssh-ed25519', k).catch((e) => e);
    expect(missing).toBeInstanceOf(PublickeyProtocolError);
    expect(missing.message).toMatch(/key not found/);
    expect(await pk.list()).toEqual([]);
    expect(s.closed).toBe(false);
    await pk.shutdown();
    await s.close();
  });

  it('calls queued at once run in order', async () => {
    const s = await session();
    const pk = await s.publickeyInit();
    const keys = Array.from({ length: 5 }, ed25519Blob);
    const adds = keys.map((k) => pk.add('ssh-ed25519', k));
    const listed = await pk.list(); // queued behind the adds
    await Promise.all(adds);
    expect(listed.map((e) => e.blob)).toEqual(keys);
    await Promise.all(keys.map((k) => pk.remove('ssh-ed25519', k)));
    expect(await pk.list()).toEqual([]);
    await pk.shutdown();
    await s.close();
  });

  it('responses split across channel data messages (a long list) are reassembled', async () => {
    const s = await session();
    server.splitRepliesMs = 50;
    try {
      const pk = await s.publickeyInit(); // the version reply comes in two halves too
      const keys = Array.from({ length: 500 }, (_, i) => ({ name: 'ssh-ed25519', blob: ed25519Blob(), attrs: [{ name: 'comment', value: `key ${i}`, critical: false }] }));
      server.keys.push(...keys);
      const listed = await pk.list();
      expect(listed.length).toBe(500);
      expect(listed[499]).toEqual({ name: 'ssh-ed25519', blob: keys[499].blob, attrs: [{ name: 'comment', value: 'key 499', mandatory: false }] });
      await pk.shutdown();
    } finally {
      server.splitRepliesMs = 0;
      server.keys.length = 0;
    }
    await s.close();
  });

  it('bad arguments throw TypeError; a collected subsystem is freed on the queue', async () => {
    const s = await session();
    const pk = await s.publickeyInit();
    await expect(pk.add(1 as unknown as string, Buffer.alloc(1))).rejects.toBeInstanceOf(TypeError);
    await expect(pk.add('ssh-ed25519', 'x' as unknown as Buffer, false, [{ name: 1 } as never])).rejects.toBeInstanceOf(TypeError);
    await expect(pk.remove('ssh-ed25519', 5 as unknown as Buffer)).rejects.toBeInstanceOf(TypeError);
    // Session freed with the subsystem still open: torn down first, no crash.
    await s.free();
    await expect(pk.list()).rejects.toBeInstanceOf(Libssh2Error);
  });

  it('OpenSSH does not serve the subsystem: a ChannelFailure-family error', async () => {
    const f = fixture();
    const s = new Session();
    s.setTimeout(20000);
    await s.handshake(await tcp(f.host, f.port));
    await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
    const err = await s.publickeyInit().catch((e) => e);
    expect(err).toBeInstanceOf(Libssh2Error);
    expect(err.code).toBe('LIBSSH2_ERROR_CHANNEL_FAILURE');
    expect(s.closed).toBe(false);
    await s.close();
  });

  it('publickeyInit on a freed session: BadUseError', async () => {
    const s = new Session();
    await s.free();
    await expect(s.publickeyInit()).rejects.toBeInstanceOf(BadUseError);
    void net;
  });
});
