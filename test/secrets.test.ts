/**
 * No secret (password, passphrase, private key text, keyboard-interactive answers) appears in
 * an error — message, stack, any own or inherited property, `util.inspect` — or in trace output,
 * unless the caller enabled packet tracing (`LIBSSH2_TRACE_TRANS`, which hex-dumps every
 * packet: then the password is in the dump, as in C). Failures are provoked against the real
 * fixture: wrong password, wrong passphrase, bad key text, wrong keyboard-interactive answers,
 * through the one-to-one calls and through `connect()`.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as util from 'util';
import {
  Session, connect, AuthError, AuthenticationFailedError, Libssh2Error, LIBSSH2_TRACE_TRANS, LIBSSH2_TRACE_KEX,
  LIBSSH2_TRACE_AUTH, LIBSSH2_TRACE_CONN, LIBSSH2_TRACE_SCP, LIBSSH2_TRACE_SFTP, LIBSSH2_TRACE_ERROR,
  LIBSSH2_TRACE_PUBLICKEY, LIBSSH2_TRACE_SOCKET, type ConnectOptions,
} from '../lib';
import { fixture } from './fixtures';
import { tcp } from './helpers/connect';

/** Every trace bit but packet tracing. */
const ALL_BUT_PACKETS = LIBSSH2_TRACE_KEX | LIBSSH2_TRACE_AUTH | LIBSSH2_TRACE_CONN | LIBSSH2_TRACE_SCP | LIBSSH2_TRACE_SFTP |
  LIBSSH2_TRACE_ERROR | LIBSSH2_TRACE_PUBLICKEY | LIBSSH2_TRACE_SOCKET;

const unique = (label: string) => `${label}-${crypto.randomBytes(9).toString('base64url')}`;

/** The distinctive pieces of a secret: itself, and for key text each long base64 line. */
function needles(secret: string | Buffer): string[] {
  const text = secret.toString();
  if (!text.includes('-----BEGIN')) return [text];
  return text.split('\n').map((l) => l.trim()).filter((l) => l.length >= 24 && !l.startsWith('-----'));
}

/** Everything an error exposes, as text: message, stack, properties (deep, hidden ones too). */
function exposed(err: unknown): string {
  const parts: string[] = [String(err), util.inspect(err, { showHidden: true, depth: 8, maxStringLength: Infinity, maxArrayLength: Infinity })];
  if (err && typeof err === 'object') {
    const seen = new Set<unknown>();
    const walk = (o: unknown, depth: number): void => {
      if (depth > 6 || o === null || typeof o !== 'object' || seen.has(o)) {
        if (typeof o === 'string') parts.push(o);
        else if (Buffer.isBuffer(o)) parts.push(o.toString('latin1'));
        return;
      }
      seen.add(o);
      for (let p: object | null = o; p && p !== Object.prototype && p !== Error.prototype; p = Object.getPrototypeOf(p) as object | null) {
        for (const key of Reflect.ownKeys(p)) {
          let v: unknown;
          try {
            v = (o as Record<string | symbol, unknown>)[key];
          } catch {
            continue;
          }
          walk(v, depth + 1);
        }
      }
    };
    walk(err, 0);
  }
  return parts.join('\n');
}

function expectNoSecret(where: string, text: string, secrets: (string | Buffer)[]): void {
  for (const secret of secrets) {
    for (const needle of needles(secret)) {
      if (text.includes(needle)) throw new Error(`${where} contains a secret (${JSON.stringify(needle.slice(0, 6))}…):\n${text.slice(0, 3000)}`);
    }
  }
}

/** Trace lines as text, plus the bytes of libssh2's packet hex dumps decoded (latin1). */
function traceText(lines: string[]): string {
  const dumped: string[] = [];
  for (const line of lines) {
    for (const l of line.split('\n')) {
      const m = /^[0-9a-f]{4,}: ((?:[0-9A-F]{2}  ?)+)/.exec(l);
      if (m) dumped.push(Buffer.from(m[1].replace(/\s+/g, ''), 'hex').toString('latin1'));
    }
  }
  return `${lines.join('')}\n${dumped.join('')}`;
}

/** A handshaken session tracing `mask` into `lines` from before the handshake on. */
async function traced(mask: number, lines: string[]): Promise<Session> {
  const s = new Session();
  s.trace(mask, (line) => lines.push(line));
  await s.handshake(await tcp());
  return s;
}

/** Runs `fail`, which must reject with an AuthError; checks the error, lastError() and the trace. */
async function checkFailure(name: string, secrets: (string | Buffer)[], fail: (s: Session) => Promise<unknown>,
  expected: abstract new (...a: never[]) => Error = AuthError): Promise<{ err: unknown; trace: string }> {
  const lines: string[] = [];
  const s = await traced(ALL_BUT_PACKETS, lines);
  try {
    const err = await fail(s).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(expected);
    expectNoSecret(`${name}: the error`, exposed(err), secrets);
    expectNoSecret(`${name}: lastError()`, JSON.stringify(s.lastError()), secrets);
    await new Promise((r) => setImmediate(r)); // trace lines are delivered on the main thread
    const trace = traceText(lines);
    expect(lines.length).toBeGreaterThan(0);
    expectNoSecret(`${name}: the trace`, trace, secrets);
    return { err, trace };
  } finally {
    await s.close();
  }
}

describe('secrets never appear in errors or (non-packet) traces', () => {
  const f = fixture();
  const encryptedKeys = [f.keys.rsaEncrypted, f.keys.ed25519Encrypted, f.keys.ecdsaPemEncrypted];

  it('wrong password (userauthPassword)', async () => {
    const password = unique('pw');
    const { err } = await checkFailure('password', [password], (s) => s.userauthPassword(f.user, password), AuthenticationFailedError);
    expect((err as Libssh2Error).fn).toBe('libssh2_userauth_password_ex');
  });

  it('wrong passphrase for encrypted keys, from file and from memory', async () => {
    for (const key of encryptedKeys) {
      const passphrase = unique('pp');
      const text = fs.readFileSync(key.private, 'utf8');
      // The passphrase that would decrypt them is a secret too.
      await checkFailure(`${key.type} fromfile`, [passphrase, f.passphrase], (s) => s.userauthPublickeyFromfile(f.user, key.private, passphrase));
      await checkFailure(`${key.type} frommemory`, [passphrase, f.passphrase, text], (s) => s.userauthPublickeyFrommemory(f.user, text, passphrase));
      await checkFailure(`${key.type} frommemory without passphrase`, [f.passphrase, text], (s) => s.userauthPublickeyFrommemory(f.user, Buffer.from(text)));
    }
  });

  it('bad key text: corrupted, truncated and garbage keys, and an unauthorized key', async () => {
    const good = fs.readFileSync(f.keys.ed25519.private, 'utf8');
    const lines = good.trimEnd().split('\n');
    const corrupted = [lines[0], ...lines.slice(1, -1).map((l) => [...l].reverse().join('')), lines[lines.length - 1]].join('\n') + '\n';
    const truncated = lines.slice(0, 3).join('\n') + '\n';
    const garbage = `-----BEGIN OPENSSH PRIVATE KEY-----\n${crypto.randomBytes(300).toString('base64').replace(/(.{70})/g, '$1\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
    const pemGarbage = `-----BEGIN RSA PRIVATE KEY-----\n${crypto.randomBytes(600).toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END RSA PRIVATE KEY-----\n`;
    for (const [name, text] of [['corrupted', corrupted], ['truncated', truncated], ['garbage', garbage], ['pem garbage', pemGarbage]]) {
      await checkFailure(`${name} key`, [text, good], (s) => s.userauthPublickeyFrommemory(f.user, text));
      await checkFailure(`${name} key with passphrase`, [text, good, 'pp-xyz-123456'], (s) => s.userauthPublickeyFrommemory(f.user, text, 'pp-xyz-123456'));
    }
    const unauthorized = fs.readFileSync(f.keys.unauthorized.private, 'utf8');
    await checkFailure('unauthorized key', [unauthorized], (s) => s.userauthPublickeyFrommemory(f.user, unauthorized));
  });

  (f.kbdInteractive ? it : it.skip)('wrong keyboard-interactive answers (root, PAM)', async () => {
    const answer = unique('kbd');
    let asked = 0;
    await checkFailure('keyboard-interactive', [answer], (s) => s.userauthKeyboardInteractive(f.user, (_n, _i, prompts) => {
      asked++;
      return prompts.map(() => answer);
    }));
    expect(asked).toBeGreaterThan(0);
    // A responder that fails: its own error comes back, nothing is added to it.
    await checkFailure('keyboard-interactive, throwing responder', [answer], (s) => s.userauthKeyboardInteractive(f.user, () => {
      throw new AuthenticationFailedError('responder gave up', 'test');
    }));
  });

  describe('connect()', () => {
    const base = (): ConnectOptions => ({ host: f.host, port: f.port, username: f.user, knownHosts: [], hostVerifier: () => true, readyTimeout: 30000 });

    async function connectFails(name: string, opts: ConnectOptions, secrets: (string | Buffer)[]): Promise<unknown> {
      const err = await connect(opts).then((s) => s.close().then(() => undefined), (e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expectNoSecret(`connect ${name}`, exposed(err), secrets);
      return err;
    }

    it('wrong password', async () => {
      const password = unique('pw');
      expect(await connectFails('password', { ...base(), password }, [password])).toBeInstanceOf(AuthError);
    });

    it('wrong passphrase, key as text, as Buffer and as path', async () => {
      const passphrase = unique('pp');
      const key = f.keys.ed25519Encrypted;
      const text = fs.readFileSync(key.private, 'utf8');
      for (const privateKey of [text, Buffer.from(text), key.private]) {
        expect(await connectFails('passphrase', { ...base(), privateKey, passphrase }, [passphrase, f.passphrase, text])).toBeInstanceOf(AuthError);
      }
    });

    it('key text that does not start with -----BEGIN (leading whitespace) and garbage key text', async () => {
      const text = fs.readFileSync(f.keys.ed25519.private, 'utf8');
      for (const privateKey of [`\n${text}`, `  ${text}`, text.replace('-----BEGIN', '-----BOGUS')]) {
        const err = await connectFails('odd key text', { ...base(), privateKey }, [text]);
        expect(err).toBeInstanceOf(Error);
      }
    });

    it('wrong keyboard-interactive answers and a wrong password together', async () => {
      const answer = unique('kbd');
      const password = unique('pw');
      const err = await connectFails('kbd', { ...base(), password, tryKeyboard: (_n, _i, p) => p.map(() => answer) }, [answer, password]);
      expect(err).toBeInstanceOf(AuthError);
    });
  });

  describe('trace output', () => {
    it('every bit but LIBSSH2_TRACE_TRANS: a full login and session show no password', async () => {
      if (!f.password) return; // password logins need root (the fixture's test user)
      const lines: string[] = [];
      const s = await traced(ALL_BUT_PACKETS, lines);
      await s.userauthPassword(f.user, f.password);
      expect((await s.exec('echo hi', { encoding: 'utf8' })).stdout).toBe('hi\n');
      const sftp = await s.sftpInit();
      await sftp.realpath('.');
      await s.close();
      expect(lines.join('')).toMatch(/password/i); // AUTH tracing did speak about it
      expectNoSecret('trace', traceText(lines), [f.password]);
    });

    it('a successful passphrase login traces neither passphrase nor key text', async () => {
      const lines: string[] = [];
      const text = fs.readFileSync(f.keys.ed25519Encrypted.private, 'utf8');
      const a = await traced(ALL_BUT_PACKETS, lines);
      await a.userauthPublickeyFrommemory(f.user, text, f.passphrase);
      await a.close();
      // A second session: userauth on an authenticated session waits for a reply the server
      // never sends (RFC 4252 5.1: requests after success are ignored).
      const b = await traced(ALL_BUT_PACKETS, lines);
      await b.userauthPublickeyFromfile(f.user, f.keys.rsaEncrypted.private, f.passphrase);
      expect(b.userauthAuthenticated()).toBe(true);
      await b.close();
      expectNoSecret('trace', traceText(lines), [f.passphrase, text, fs.readFileSync(f.keys.rsaEncrypted.private, 'utf8')]);
    });

    it('packet tracing (LIBSSH2_TRACE_TRANS), enabled by the caller, dumps the password packet: the check above would see it', async () => {
      if (!f.password) return;
      const password = unique('pw');
      const lines: string[] = [];
      const s = await traced(LIBSSH2_TRACE_TRANS, lines);
      await s.userauthPassword(f.user, password).catch(() => undefined);
      await s.close();
      expect(traceText(lines)).toContain(password);
    });
  });
});
