/**
 * Authentication paths OpenSSH does not offer on the fixture, against a scripted server (the
 * `ssh2` npm package's Server): "none" auth succeeding (userauthList → null) and the
 * password-change request (SSH_MSG_USERAUTH_PASSWD_CHANGEREQ).
 */
import * as crypto from 'crypto';
import { Server, type ServerConnection } from 'ssh2';
import { PasswordExpiredError, Session } from '../lib';
import { tcp } from './helpers/connect';

describe('scripted server: none auth, password change', () => {
  let server: Server;
  let port: number;
  const clients = new Set<ServerConnection>();
  const changes: { old: string; fresh: string }[] = [];

  beforeAll(async () => {
    const { privateKey } = crypto.generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    server = new Server({ hostKeys: [privateKey] }, (client) => {
      clients.add(client);
      client.on('close', () => clients.delete(client));
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => {
        // "open" logs in without any credentials; "expired" must change its password first.
        if (ctx.username === 'open' && ctx.method === 'none') return ctx.accept();
        if (ctx.username === 'expired' && ctx.method === 'password') {
          if (ctx.password === 'fresh') return ctx.accept();
          const old = ctx.password ?? '';
          return ctx.requestChange('Your password has expired', (fresh: string) => {
            changes.push({ old, fresh });
            if (fresh === 'fresh') ctx.accept();
            else ctx.reject(['password']);
          });
        }
        return ctx.reject(['password']);
      });
      client.on('ready', () => client.on('session', (accept) => accept()));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const c of clients) c.end();
    await new Promise<void>((r) => server.close(() => r()));
  });

  async function session(): Promise<Session> {
    const s = new Session();
    s.setTimeout(20000);
    await s.handshake(await tcp('127.0.0.1', port));
    return s;
  }

  it('userauthList resolves to null when "none" authentication succeeded', async () => {
    const s = await session();
    expect(await s.userauthList('open')).toBeNull();
    expect(s.userauthAuthenticated()).toBe(true);
    await s.close();
  });

  it('userauthList lists the methods otherwise', async () => {
    const s = await session();
    expect(await s.userauthList('someone')).toEqual(['password']);
    expect(s.userauthAuthenticated()).toBe(false);
    await s.close();
  });

  it('a password-change request is answered by onPasswordChange', async () => {
    const s = await session();
    let asked = 0;
    await s.userauthPassword('expired', 'old', () => {
      asked++;
      return 'fresh';
    });
    expect(asked).toBe(1);
    expect(changes).toContainEqual({ old: 'old', fresh: 'fresh' });
    expect(s.userauthAuthenticated()).toBe(true);
    await s.close();
  });

  it('without onPasswordChange an expired password fails with PasswordExpiredError', async () => {
    const s = await session();
    await expect(s.userauthPassword('expired', 'old')).rejects.toBeInstanceOf(PasswordExpiredError);
    expect(s.userauthAuthenticated()).toBe(false);
    await s.free();
  });
});
