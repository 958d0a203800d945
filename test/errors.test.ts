import * as lib from '../lib';
import {
  Libssh2Error, ConnectionError, AuthError, ChannelError, SftpProtocolError, errorClasses,
  sftpErrorClasses, createError, AuthenticationFailedError, PublickeyUnrecognizedError, BannerRecvError,
  BannerNoneError, SftpNoSuchFileError, SftpLockConflictError, TimeoutError, BadUseError,
} from '../lib';
import { native } from '../lib/native';

const consts = lib.constants as unknown as Record<string, number | string>;
const errorCodes = Object.entries(consts)
  .filter(([n, v]) => n.startsWith('LIBSSH2_ERROR_') && typeof v === 'number' && v !== 0) as [string, number][];
const fxCodes = Object.entries(consts)
  .filter(([n, v]) => n.startsWith('LIBSSH2_FX_') && v !== 0) as [string, number][];

const families: Record<string, string[]> = {
  ConnectionError: ['SOCKET_NONE', 'BANNER_RECV', 'BANNER_NONE', 'BANNER_SEND', 'INVALID_MAC', 'KEX_FAILURE',
    'SOCKET_SEND', 'SOCKET_RECV', 'SOCKET_DISCONNECT', 'SOCKET_TIMEOUT', 'PROTO', 'ENCRYPT', 'DECRYPT',
    'MAC_FAILURE', 'HOSTKEY_INIT', 'HOSTKEY_SIGN', 'KEY_EXCHANGE_FAILURE', 'RANDGEN', 'ALGO_UNSUPPORTED', 'BAD_SOCKET'],
  AuthError: ['AUTHENTICATION_FAILED', 'PUBLICKEY_UNVERIFIED', 'PUBLICKEY_UNRECOGNIZED', 'PASSWORD_EXPIRED',
    'KEYFILE_AUTH_FAILED', 'FILE', 'AGENT_PROTOCOL', 'MISSING_USERAUTH_BANNER'],
  ChannelError: ['CHANNEL_FAILURE', 'CHANNEL_UNKNOWN', 'CHANNEL_WINDOW_EXCEEDED', 'CHANNEL_PACKET_EXCEEDED',
    'CHANNEL_CLOSED', 'CHANNEL_EOF_SENT', 'CHANNEL_REQUEST_DENIED', 'CHANNEL_OUTOFORDER', 'CHANNEL_WINDOW_FULL',
    'REQUEST_DENIED', 'SCP_PROTOCOL'],
};
const familyClass: Record<string, unknown> = { ConnectionError, AuthError, ChannelError };

function pascal(code: string): string {
  return code.toLowerCase().split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

describe('error classes', () => {
  it.each(errorCodes)('%s (%d) has its class, named after the code', (name, errno) => {
    const cls = errorClasses.get(errno);
    expect(cls).toBeDefined();
    const e = new cls!('msg', 'libssh2_fn');
    expect(e).toBeInstanceOf(Libssh2Error);
    expect(e).toBeInstanceOf(Error);
    expect(e.errno).toBe(errno);
    expect(consts[e.code]).toBe(errno);
    expect(e.fn).toBe('libssh2_fn');
    expect(e.message).toBe('msg');
    // Aliases share the class of the first name; every name is exported at top level.
    const exportedClass = (lib as unknown as Record<string, unknown>)[`${pascal(name.slice('LIBSSH2_ERROR_'.length))}Error`];
    expect(exportedClass).toBe(cls);
    expect(e.name).toBe(cls!.name);
  });

  it.each(Object.entries(families))('the %s family is complete and exact', (family, codes) => {
    for (const code of codes) {
      const e = createError(consts[`LIBSSH2_ERROR_${code}`] as number);
      expect([code, e instanceof (familyClass[family] as typeof Libssh2Error)]).toEqual([code, true]);
    }
    const members = errorCodes.filter(([, errno]) => createError(errno) instanceof (familyClass[family] as typeof Libssh2Error));
    expect(members.map(([n]) => n.slice('LIBSSH2_ERROR_'.length)).sort()).toEqual([...codes].sort());
  });

  it('has no family for the codes DESIGN.md leaves alone', () => {
    for (const code of ['TIMEOUT', 'ALLOC', 'INVAL', 'BAD_USE', 'EAGAIN', 'KNOWN_HOSTS', 'HASH_CALC', 'SFTP_PROTOCOL']) {
      const e = createError(consts[`LIBSSH2_ERROR_${code}`] as number);
      expect(Object.getPrototypeOf(Object.getPrototypeOf(e)) === Libssh2Error.prototype ||
        Object.getPrototypeOf(e) === Libssh2Error.prototype).toBe(true);
    }
  });

  it('shares classes between aliases', () => {
    expect(PublickeyUnrecognizedError).toBe(AuthenticationFailedError);
    expect(BannerNoneError).toBe(BannerRecvError);
    expect(new AuthenticationFailedError('x').code).toBe('LIBSSH2_ERROR_AUTHENTICATION_FAILED');
    expect(new AuthenticationFailedError('x').errno).toBe(-18);
  });

  it.each(fxCodes)('SFTP status %s (%d) has its SftpProtocolError subclass', (name, status) => {
    const cls = sftpErrorClasses.get(status);
    expect(cls).toBeDefined();
    const e = createError(-31, 'libssh2_sftp_open_ex', 'no', status);
    expect(e).toBeInstanceOf(cls!);
    expect(e).toBeInstanceOf(SftpProtocolError);
    expect(e.errno).toBe(-31);
    expect(e.code).toBe('LIBSSH2_ERROR_SFTP_PROTOCOL');
    expect((e as SftpProtocolError).status).toBe(status);
    expect(consts[(e as SftpProtocolError).statusName]).toBe(status);
    expect(name === (e as SftpProtocolError).statusName || consts[name] === status).toBe(true);
  });

  it('maps SFTP_PROTOCOL with FX_OK (a local desync) to the plain SftpProtocolError', () => {
    const e = createError(-31, 'libssh2_sftp_read', 'internal error', 0) as SftpProtocolError;
    expect(e.constructor).toBe(SftpProtocolError);
    expect(e.status).toBe(0);
    expect(e.statusName).toBe('LIBSSH2_FX_OK');
    expect(new SftpLockConflictError('x').statusName).toBe('LIBSSH2_FX_LOCK_CONFLICT');
  });

  it('an unknown code still gives a Libssh2Error with that errno', () => {
    const e = createError(-999, 'libssh2_future');
    expect(e).toBeInstanceOf(Libssh2Error);
    expect(e.errno).toBe(-999);
  });
});

describe('the native error mapping', () => {
  it('builds the TypeScript class for a code, naming the function', () => {
    const e = native.makeError(-18, 'libssh2_userauth_password_ex') as Libssh2Error;
    expect(e).toBeInstanceOf(AuthenticationFailedError);
    expect(e).toBeInstanceOf(AuthError);
    expect(e.fn).toBe('libssh2_userauth_password_ex');
    expect(e.code).toBe('LIBSSH2_ERROR_AUTHENTICATION_FAILED');
    expect(e.message).toContain('LIBSSH2_ERROR_AUTHENTICATION_FAILED');
    expect(native.makeError(-9)).toBeInstanceOf(TimeoutError);
    expect(native.makeError(-39)).toBeInstanceOf(BadUseError);
  });

  it('builds the SFTP status class', () => {
    const e = native.makeError(-31, 'libssh2_sftp_stat_ex', 2) as SftpProtocolError;
    expect(e).toBeInstanceOf(SftpNoSuchFileError);
    expect(e.status).toBe(2);
    expect(e.fn).toBe('libssh2_sftp_stat_ex');
  });

  it('rejects a non-number errno with a TypeError', () => {
    expect(() => native.makeError('x' as unknown as number)).toThrow(expect.objectContaining({ name: 'TypeError' }));
  });
});
