import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const tree = path.join(root, 'deps', 'libssh2');
const pin = JSON.parse(fs.readFileSync(path.join(root, 'deps', 'libssh2.json'), 'utf8'));

describe('the vendored libssh2', () => {
  it('is the pinned release with every patch of the series applied', () => {
    const stamp = JSON.parse(fs.readFileSync(path.join(tree, '.libssh2-stamp.json'), 'utf8'));
    expect(stamp.version).toBe(pin.version);
    expect(stamp.debianPatches).toEqual(pin.debian.series);
    expect(pin.debian.series).toEqual(expect.arrayContaining([
      'cve-2026-7598.patch', 'CVE-2025-15661.patch', 'CVE-2026-55199.patch', 'CVE-2026-55200.patch',
      'libssh-unconst-backport.patch', 'CVE-2026-66032.patch', 'CVE-2026-66033.patch', 'CVE-2026-66034.patch',
      'CVE-2026-66035.patch', 'CVE-2026-58050.patch', 'CVE-2026-58051.patch',
    ]));
    const header = fs.readFileSync(path.join(tree, 'include', 'libssh2.h'), 'utf8');
    expect(header).toContain(`#define LIBSSH2_VERSION "${pin.version}"`);
  });

  it('every patch (Debian series, then ours) is in effect: they reverse cleanly, last first', () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-reverse-'));
    try {
      fs.cpSync(path.join(tree, 'src'), path.join(copy, 'src'), { recursive: true });
      fs.cpSync(path.join(tree, 'include'), path.join(copy, 'include'), { recursive: true });
      const files = [...pin.debian.series.map((p: string) => `debian-${p}`), ...pin.patches.map((p: { file: string }) => `ours-${p.file}`)];
      for (const file of files.reverse()) {
        const patchFile = path.join(tree, '.patches', file);
        // Patches that touch only files outside src/ and include/ (pkg-config) are skipped.
        const touched = fs.readFileSync(patchFile, 'utf8').match(/^\+\+\+ [^/\s]+\/(\S+)/gm) ?? [];
        if (!touched.some((t) => /\/(src|include)\//.test(t))) continue;
        const r = spawnSync('patch', ['-p1', '-R', '--batch', '--no-backup-if-mismatch', '-i', patchFile], { cwd: copy, encoding: 'utf8' });
        expect([file, r.status, r.stdout + r.stderr]).toEqual([file, 0, expect.not.stringMatching(/FAILED|Unreversed/i)]);
      }
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });

  it('the fetch script refuses a corrupt tarball with a clear message', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-corrupt-'));
    try {
      const bad = path.join(dir, pin.tarball);
      fs.writeFileSync(bad, Buffer.alloc(4096, 7));
      const r = spawnSync(process.execPath, [path.join(root, 'deps', 'fetch.js'), '--dest', path.join(dir, 'out')], {
        encoding: 'utf8',
        env: { ...process.env, LIBSSH2_TARBALL: bad, LIBSSH2_DEBIAN_TARBALL: bad },
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/sha256 mismatch for the libssh2 tarball/);
      expect(r.stderr).toContain(pin.sha256);
      expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the fetch script does nothing when the tree is complete', () => {
    const before = fs.statSync(path.join(tree, '.libssh2-stamp.json')).mtimeMs;
    const r = spawnSync(process.execPath, [path.join(root, 'deps', 'fetch.js'), '--if-missing'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(fs.statSync(path.join(tree, '.libssh2-stamp.json')).mtimeMs).toBe(before);
  });
});
