import * as path from 'path';
import * as lib from '../lib';
import * as constants from '../lib/constants';
import { native } from '../lib/native';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { readDefines } = require('../scripts/header-defines') as {
  readDefines: (dir: string) => { name: string; value: number | string; header: string }[];
};

const defines = readDefines(path.join(__dirname, '..', 'deps', 'libssh2', 'include'));
const exported = constants as unknown as Record<string, number | string>;

describe('constants', () => {
  it('covers the three headers', () => {
    const headers = new Set(defines.map((d) => d.header));
    expect([...headers].sort()).toEqual(['libssh2.h', 'libssh2_publickey.h', 'libssh2_sftp.h']);
    expect(defines.length).toBeGreaterThan(250);
  });

  it('exports every #define of the fetched headers with its value', () => {
    const missing = defines.filter((d) => exported[d.name] !== d.value).map((d) => d.name);
    expect(missing).toEqual([]);
    expect(Object.keys(exported).sort()).toEqual(defines.map((d) => d.name).sort());
  });

  it('equals what the C compiler makes of the same names', () => {
    const compiled = native.constantsTable();
    expect(Object.keys(compiled).sort()).toEqual(Object.keys(exported).sort());
    for (const [name, value] of Object.entries(exported)) expect([name, compiled[name]]).toEqual([name, value]);
  });

  it('has the families DESIGN.md lists, with C values', () => {
    expect(lib.LIBSSH2_ERROR_EAGAIN).toBe(-37);
    expect(lib.LIBSSH2_FX_NO_SUCH_FILE).toBe(2);
    expect(lib.LIBSSH2_FXF_CREAT).toBe(0x08);
    expect(lib.LIBSSH2_SFTP_S_IFDIR).toBe(0o040000);
    expect(lib.LIBSSH2_KNOWNHOST_KEY_ED25519).toBe(7 << 18);
    expect(lib.LIBSSH2_HOSTKEY_HASH_SHA256).toBe(3);
    expect(lib.LIBSSH2_METHOD_CRYPT_CS).toBe(2);
    expect(lib.LIBSSH2_SESSION_BLOCK_OUTBOUND).toBe(2);
    expect(lib.LIBSSH2_FLAG_COMPRESS).toBe(2);
    expect(lib.SSH_DISCONNECT_BY_APPLICATION).toBe(11);
    expect(lib.LIBSSH2_TRACE_SOCKET).toBe(1 << 9);
    expect(lib.LIBSSH2_CHANNEL_WINDOW_DEFAULT).toBe(2 * 1024 * 1024);
    expect(lib.LIBSSH2_SSH_DEFAULT_BANNER_WITH_CRLF).toBe('SSH-2.0-libssh2_1.11.1\r\n');
    expect(lib.LIBSSH2_SFTP_RENAME_OVERWRITE).toBe(1);
    expect(lib.LIBSSH2_SFTP_ST_RDONLY).toBe(1);
  });

  it('are exported at top level and as the `constants` group', () => {
    for (const [name, value] of Object.entries(exported)) {
      expect((lib as unknown as Record<string, unknown>)[name]).toBe(value);
      expect((lib.constants as unknown as Record<string, unknown>)[name]).toBe(value);
    }
  });
});
