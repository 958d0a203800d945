import * as crypto from 'crypto';
import * as fs from 'fs';
import {
  Session, AuthenticationFailedError, AuthError, FileError, Libssh2Error, BadUseError, LIBSSH2_ERROR_EAGAIN,
} from '../lib';
import { fixture, itIfRoot, type UserKeyName } from './fixtures';
import { handshaken } from './helpers/connect';
import { sshEd25519ToPkcs8 } from './helpers/keys';

const f = fixture();
const plainKeys: UserKeyName[] = ['rsa', 'rsaPem', 'ecdsa256', 'ecdsa384', 'ecdsa521', 'ed25519'];
const encryptedKeys: UserKeyName[] = ['rsaEncrypted', 'ed25519Encrypted', 'ecdsaPemEncrypted'];

async function withSession<T>(body: (s: Session) => Promise<T>): Promise<T> {
  const s = await handshaken();
  try {
    return await body(s);
  } finally {
    await s.close();
  }
}

describe('userauth', () => {
  it('lists the methods the server accepts', async () => {
    await withSession(async (s) => {
      const list = await s.userauthList(f.user);
      expect(list).toEqual(expect.arrayContaining(['publickey']));
      expect(s.userauthAuthenticated()).toBe(false);
    });
  });

  it.each(plainKeys)('publickey from file: %s', async (name) => {
    await withSession(async (s) => {
      await s.userauthPublickeyFromfile(f.user, f.keys[name].private);
      expect(s.userauthAuthenticated()).toBe(true);
    });
  });

  it.each(plainKeys)('publickey from memory: %s (Buffer and string)', async (name) => {
    const key = fs.readFileSync(f.keys[name].private);
    await withSession(async (s) => {
      await s.userauthPublickeyFrommemory(f.user, key);
      expect(s.userauthAuthenticated()).toBe(true);
    });
    await withSession(async (s) => {
      await s.userauthPublickeyFrommemory(f.user, key.toString('utf8'), undefined, fs.readFileSync(f.keys[name].public, 'utf8'));
      expect(s.userauthAuthenticated()).toBe(true);
    });
  });

  it.each(encryptedKeys)('encrypted key %s: right passphrase works, wrong one fails with its class', async (name) => {
    await withSession(async (s) => {
      await s.userauthPublickeyFromfile(f.user, f.keys[name].private, f.passphrase);
      expect(s.userauthAuthenticated()).toBe(true);
    });
    await withSession(async (s) => {
      const err = await s.userauthPublickeyFromfile(f.user, f.keys[name].private, 'wrong passphrase').catch((e) => e);
      expect(err).toBeInstanceOf(FileError);
      expect(err).toBeInstanceOf(AuthError);
      expect(err.errno).toBe(-16);
      expect(err.fn).toBe('libssh2_userauth_publickey_fromfile_ex');
      expect(s.userauthAuthenticated()).toBe(false);
    });
    await withSession(async (s) => {
      const key = fs.readFileSync(f.keys[name].private);
      await s.userauthPublickeyFrommemory(f.user, key, f.passphrase);
      expect(s.userauthAuthenticated()).toBe(true);
    });
  });

  it('a key the server does not know fails with AuthenticationFailedError', async () => {
    await withSession(async (s) => {
      const err = await s.userauthPublickeyFromfile(f.user, f.keys.unauthorized.private).catch((e) => e);
      expect(err).toBeInstanceOf(Libssh2Error);
      expect(err).toBeInstanceOf(AuthError);
      expect([-18, -19]).toContain(err.errno);
      // The session survives a failed attempt: another key works.
      await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
      expect(s.userauthAuthenticated()).toBe(true);
    });
  });

  it.each(['certUser', 'certRsa'] as UserKeyName[])('certificate %s (TrustedUserCAKeys)', async (name) => {
    const key = f.keys[name];
    expect(key.cert).toBeDefined();
    await withSession(async (s) => {
      await s.userauthPublickeyFromfile(f.user, key.private, undefined, key.cert);
      expect(s.userauthAuthenticated()).toBe(true);
    });
    // Without the certificate the key is unknown to the server.
    await withSession(async (s) => {
      await expect(s.userauthPublickeyFromfile(f.user, key.private, undefined, key.public)).rejects.toBeInstanceOf(AuthError);
    });
  });

  it('a missing key file fails with FileError', async () => {
    await withSession(async (s) => {
      const err = await s.userauthPublickeyFromfile(f.user, '/nonexistent/key').catch((e) => e);
      expect(err).toBeInstanceOf(FileError);
    });
  });

  it("libssh2's failed key decodes leave Node's own crypto working (OpenSSL error queue)", async () => {
    // libssh2 decodes keys with the OpenSSL that Node's crypto uses, on the same thread: errors
    // it leaves queued made crypto.createPrivateKey fail with "DECODER routines::unsupported".
    const pem = fs.readFileSync(f.keys.ed25519.private, 'utf8');
    for (const name of encryptedKeys) {
      await withSession(async (s) => {
        // Non-blocking mode runs the decode on this (the main) thread.
        s.setBlocking(false);
        const attempt = async (call: () => unknown) => {
          for (let i = 0; i < 1000 && call() === LIBSSH2_ERROR_EAGAIN; i++) await s.waitSocket(10000);
        };
        await attempt(() => s.userauthPublickeyFromfileNb(f.user, f.keys[name].private, 'wrong passphrase')).catch(() => undefined);
        await attempt(() => s.userauthPublickeyFrommemoryNb(f.user, 'not a key')).catch(() => undefined);
        s.setBlocking(true);
      });
      expect(() => crypto.createPrivateKey({ key: sshEd25519ToPkcs8(pem), format: 'der', type: 'pkcs8' })).not.toThrow();
      expect(() => crypto.createPublicKey(fs.readFileSync(f.keys.rsaPem.private, 'utf8'))).not.toThrow();
    }
  });

  describe('sign callback with node:crypto', () => {
    const pem = fs.readFileSync(f.keys.ed25519.private, 'utf8');
    const pub = fs.readFileSync(f.keys.ed25519.public, 'utf8').split(' ');
    const blob = Buffer.from(pub[1], 'base64');
    const privateKey = crypto.createPrivateKey({ key: sshEd25519ToPkcs8(pem), format: 'der', type: 'pkcs8' });

    it('a synchronous signer authenticates', async () => {
      await withSession(async (s) => {
        let calls = 0;
        await s.userauthPublickey(f.user, blob, (data) => {
          calls++;
          return crypto.sign(null, data, privateKey);
        });
        expect(calls).toBe(1);
        expect(s.userauthAuthenticated()).toBe(true);
      });
    });

    it('a signer returning a Promise authenticates (the op parks, no thread waits)', async () => {
      await withSession(async (s) => {
        await s.userauthPublickey(f.user, blob, async (data) => {
          await new Promise((r) => setTimeout(r, 20));
          return crypto.sign(null, data, privateKey);
        });
        expect(s.userauthAuthenticated()).toBe(true);
      });
    });

    it('a wrong signature fails; a throwing signer rejects with its own error', async () => {
      await withSession(async (s) => {
        const err = await s.userauthPublickey(f.user, blob, () => Buffer.alloc(64, 1)).catch((e) => e);
        expect(err).toBeInstanceOf(AuthError);
      });
      await withSession(async (s) => {
        const boom = new Error('no key here');
        await expect(s.userauthPublickey(f.user, blob, () => { throw boom; })).rejects.toBe(boom);
      });
      await withSession(async (s) => {
        const err = await s.userauthPublickey(f.user, blob, async () => { throw new Error('async no'); }).catch((e) => e);
        expect(err.message).toBe('async no');
      });
    });
  });

  describe('password and keyboard-interactive (need the root fixture: PAM and a test user)', () => {
    itIfRoot('password: right works, wrong fails with AuthenticationFailedError (-18)', async () => {
      await withSession(async (s) => {
        const err = await s.userauthPassword(f.user, 'not the password').catch((e) => e);
        expect(err).toBeInstanceOf(AuthenticationFailedError);
        expect(err.errno).toBe(-18);
        expect(err.code).toBe('LIBSSH2_ERROR_AUTHENTICATION_FAILED');
        expect(err.message).toMatch(/Authentication failed/i);
        await s.userauthPassword(f.user, f.password!);
        expect(s.userauthAuthenticated()).toBe(true);
      });
    });

    itIfRoot('keyboard-interactive with a synchronous responder', async () => {
      await withSession(async (s) => {
        const seen: string[] = [];
        await s.userauthKeyboardInteractive(f.user, (_name, _instruction, prompts) => {
          seen.push(...prompts.map((p) => p.text));
          return prompts.map(() => f.password!);
        });
        expect(seen.join(' ')).toMatch(/password/i);
        expect(s.userauthAuthenticated()).toBe(true);
      });
    });

    itIfRoot('keyboard-interactive with an async responder, and a wrong answer fails', async () => {
      await withSession(async (s) => {
        await s.userauthKeyboardInteractive(f.user, async (_n, _i, prompts) => {
          await new Promise((r) => setTimeout(r, 20));
          return prompts.map(() => f.password!);
        });
        expect(s.userauthAuthenticated()).toBe(true);
      });
      await withSession(async (s) => {
        const err = await s.userauthKeyboardInteractive(f.user, (_n, _i, prompts) => prompts.map(() => 'nope')).catch((e) => e);
        expect(err).toBeInstanceOf(AuthError);
      });
    });

    itIfRoot('keyboard-interactive: a throwing responder rejects with its error', async () => {
      await withSession(async (s) => {
        const boom = new Error('responder failed');
        const err = await s.userauthKeyboardInteractive(f.user, () => { throw boom; }).catch((e) => e);
        expect(err).toBe(boom);
      });
    });

    itIfRoot('free() while a responder never answers: the waiting pool thread is released', async () => {
      const s = await handshaken();
      let asked!: () => void;
      const wasAsked = new Promise<void>((r) => { asked = r; });
      const pending = s.userauthKeyboardInteractive(f.user, () => {
        asked();
        return new Promise<string[]>(() => undefined); // never settles
      });
      await wasAsked;
      await s.free();
      await expect(pending).rejects.toBeInstanceOf(BadUseError);
    });

    itIfRoot('hostbased from file', async () => {
      const hb = f.hostbased!;
      await withSession(async (s) => {
        await s.userauthHostbasedFromfile(f.user, hb.private, hb.hostname, undefined, hb.public, hb.localUser);
        expect(s.userauthAuthenticated()).toBe(true);
      });
    });
  });

  it('bad arguments throw TypeError before any I/O', async () => {
    await withSession(async (s) => {
      await expect(s.userauthList(42 as unknown as string)).rejects.toThrow(TypeError);
      await expect(s.userauthPublickeyFromfile(f.user, undefined as unknown as string)).rejects.toThrow(TypeError);
      await expect(s.userauthPublickey(f.user, 'x' as unknown as Buffer, () => Buffer.alloc(0))).rejects.toThrow(TypeError);
      await expect(s.userauthKeyboardInteractive(f.user, 'x' as unknown as () => string[])).rejects.toThrow(TypeError);
      await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
      expect(s.userauthAuthenticated()).toBe(true);
    });
  });
});
