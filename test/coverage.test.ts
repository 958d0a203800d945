/**
 * The README's coverage table (scripts/coverage.js): every public function of the three
 * libssh2 headers has a row, every method it names exists, every `…Nb()` twin is listed, and the
 * README is current.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as lib from '../lib';
import { SESSION_NB_METHODS } from '../lib/session';
import { CHANNEL_NB_METHODS } from '../lib/channel';
import { SFTP_HANDLE_NB_METHODS, SFTP_NB_METHODS } from '../lib/sftp';
import { LISTENER_NB_METHODS } from '../lib/listener';
import { PUBLICKEY_NB_METHODS } from '../lib/publickey';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const coverage = require('../scripts/coverage.js') as {
  MAP: Record<string, string[] | { none: string }>;
  headerFunctions(): string[];
  describeMethod(lib: unknown, ref: string): { ref: string; exists: boolean; nb: string | null };
  section(lib: unknown): string;
  readmeSection(readme: string): string | null;
};

describe('coverage table', () => {
  const fns = coverage.headerFunctions();

  it('the header parser finds the API (sanity)', () => {
    expect(fns.length).toBeGreaterThan(120);
    for (const f of ['libssh2_session_handshake', 'libssh2_sftp_read', 'libssh2_publickey_list_fetch', 'libssh2_userauth_publickey_sk']) {
      expect(fns).toContain(f);
    }
  });

  it('every public function has a row, and every row is a public function', () => {
    expect(fns.filter((f) => !(f in coverage.MAP))).toEqual([]);
    expect(Object.keys(coverage.MAP).filter((f) => !fns.includes(f))).toEqual([]);
  });

  it('every method named exists; reasons are given for the rest', () => {
    for (const [fn, entry] of Object.entries(coverage.MAP)) {
      if (!Array.isArray(entry)) {
        expect([fn, entry.none.length > 10]).toEqual([fn, true]);
        continue;
      }
      for (const ref of entry) expect([fn, ref, coverage.describeMethod(lib, ref).exists]).toEqual([fn, ref, true]);
    }
  });

  it('every …Nb() twin appears in the table', () => {
    const listed = new Set<string>();
    for (const entry of Object.values(coverage.MAP)) {
      if (!Array.isArray(entry)) continue;
      for (const ref of entry) {
        const nb = coverage.describeMethod(lib, ref).nb;
        if (nb) listed.add(nb);
      }
    }
    const twins = [
      ...SESSION_NB_METHODS.map((m) => `Session.${m}Nb`),
      ...CHANNEL_NB_METHODS.map((m) => `Channel.${m}Nb`),
      ...SFTP_NB_METHODS.map((m) => `Sftp.${m}Nb`),
      ...SFTP_HANDLE_NB_METHODS.map((m) => `SftpHandle.${m}Nb`),
      ...LISTENER_NB_METHODS.map((m) => `Listener.${m}Nb`),
      ...PUBLICKEY_NB_METHODS.map((m) => `PublicKeySubsystem.${m}Nb`),
    ];
    expect(twins.filter((t) => !listed.has(t))).toEqual([]);
  });

  it('README.md holds the current table (node scripts/coverage.js)', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    expect(coverage.readmeSection(readme)).toBe(coverage.section(lib));
  });
});
