/**
 * Bulk data through every cipher (and MAC mode) that libssh2 and the fixture's sshd share:
 * 1 MiB + 7 bytes up and down over SFTP, checked with sha256. Packets of 30 KB exercise the
 * middle-block runs of deps/patches/crypt-block-runs.patch (one crypt() call for all the middle
 * blocks of a packet), small ones (open, close, status) the first/last-block paths; a byte that
 * comes out wrong fails the MAC or the checksum.
 */
import * as crypto from 'crypto';
import {
  LIBSSH2_FXF_READ,
  LIBSSH2_FXF_WRITE,
  LIBSSH2_FXF_CREAT,
  LIBSSH2_FXF_TRUNC,
  LIBSSH2_METHOD_CRYPT_CS,
  LIBSSH2_METHOD_CRYPT_SC,
  LIBSSH2_METHOD_MAC_CS,
  LIBSSH2_METHOD_MAC_SC,
  Session,
} from '../lib';
import { fixture } from './fixtures';
import { handshaken } from './helpers/connect';

const f = fixture();
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** [cipher, mac or null (the cipher's own or the default)] pairs both sides support. */
function pairs(): [string, string | null][] {
  const probe = new Session();
  const ciphers = probe.supportedAlgs(LIBSSH2_METHOD_CRYPT_CS).filter((c) => f.algorithms.ciphers.includes(c));
  const macs = probe.supportedAlgs(LIBSSH2_METHOD_MAC_CS).filter((m) => f.algorithms.macs.includes(m));
  void probe.free();
  const out: [string, string | null][] = ciphers.map((c) => [c, null]);
  // Encrypt-and-MAC and encrypt-then-MAC take different receive paths (decrypt per block run,
  // or the MAC over the ciphertext first): one of each with a block cipher.
  for (const mac of ['hmac-sha2-256', 'hmac-sha2-256-etm@openssh.com', 'hmac-sha1']) {
    if (macs.includes(mac) && ciphers.includes('aes128-ctr')) out.push(['aes128-ctr', mac]);
  }
  if (macs.includes('hmac-sha2-512-etm@openssh.com') && ciphers.includes('aes256-cbc')) {
    out.push(['aes256-cbc', 'hmac-sha2-512-etm@openssh.com']);
  }
  return out;
}

const cases = pairs();

describe('bulk data through every shared cipher', () => {
  it('the fixture and libssh2 share the ciphers the benchmarks use', () => {
    const names = cases.map(([c]) => c);
    expect(names).toEqual(expect.arrayContaining(['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr']));
  });

  it.each(cases)('%s (mac %s): 1 MiB + 7 bytes up and down, sha256 equal', async (cipher, mac) => {
    const s = await handshaken((x) => {
      x.setTimeout(30000);
      x.methodPref(LIBSSH2_METHOD_CRYPT_CS, cipher);
      x.methodPref(LIBSSH2_METHOD_CRYPT_SC, cipher);
      if (mac) {
        x.methodPref(LIBSSH2_METHOD_MAC_CS, mac);
        x.methodPref(LIBSSH2_METHOD_MAC_SC, mac);
      }
    });
    try {
      expect(s.methods(LIBSSH2_METHOD_CRYPT_CS)).toBe(cipher);
      expect(s.methods(LIBSSH2_METHOD_CRYPT_SC)).toBe(cipher);
      if (mac) expect(s.methods(LIBSSH2_METHOD_MAC_SC)).toBe(mac);
      await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
      const sftp = await s.sftpInit();
      const data = crypto.randomBytes((1 << 20) + 7);
      const name = `${await sftp.realpath('.')}/libssh2-cipher-${process.pid}-${cipher.replace(/[^a-z0-9]/gi, '_')}-${mac ?? ''}`;
      const w = await sftp.open(name, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, 0o600);
      expect(await w.write(data)).toBe(data.length);
      await w.close();
      const r = await sftp.open(name, LIBSSH2_FXF_READ);
      const parts: Buffer[] = [];
      for (let i = 0; i < 1000; i++) {
        const b = await r.read(240000);
        if (b.length === 0) break;
        parts.push(b);
      }
      await r.close();
      await sftp.unlink(name);
      const back = Buffer.concat(parts);
      expect(back.length).toBe(data.length);
      expect(sha256(back)).toBe(sha256(data));
      await sftp.shutdown();
    } finally {
      await s.close();
    }
  }, 60000);
});
