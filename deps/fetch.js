#!/usr/bin/env node
'use strict';
/**
 * Fetches, verifies, unpacks and patches the vendored libssh2 into deps/libssh2/.
 *
 * Sources, in order:
 *   1. LIBSSH2_TARBALL (upstream release tarball) and LIBSSH2_DEBIAN_TARBALL (Debian's
 *      debian.tar.xz carrying the security patches), if set;
 *   2. deps/.cache/ (files a previous run downloaded);
 *   3. `apt-get source --download-only` of the pinned Debian revision, through a private apt
 *      configuration in a temporary directory: the URIs are copied from this machine's own apt
 *      sources, /etc/apt is never edited and root is not needed.
 * Every file is checked against the sha256 in deps/libssh2.json. Then Debian's
 * debian/patches/series is applied (it must equal the list pinned in libssh2.json), then our
 * own patches from deps/patches/. Any failure stops with a message; nothing half-done is left
 * in deps/libssh2 (the tree is built in a temporary directory and renamed at the end).
 *
 * Usage: node deps/fetch.js [--if-missing] [--dest DIR]
 *   --if-missing  do nothing when DEST already holds a complete tree of the same pin
 *   --dest DIR    unpack somewhere else than deps/libssh2 (tests use this)
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');

const depsDir = __dirname;
const pin = JSON.parse(fs.readFileSync(path.join(depsDir, 'libssh2.json'), 'utf8'));
const STAMP = '.libssh2-stamp.json';

class FetchError extends Error {}

function log(msg) {
  process.stderr.write(`libssh2 fetch: ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw new FetchError(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new FetchError(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout || ''}${r.stderr || ''}`);
  }
  return r.stdout;
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function verify(file, expected, what) {
  const got = sha256(file);
  if (got !== expected) {
    throw new FetchError(`sha256 mismatch for ${what} (${file}): expected ${expected}, got ${got}. ` +
      'The file is corrupt or not the pinned release; delete it and fetch again.');
  }
}

/** What a complete tree must record: the pin and every patch, so a changed pin re-fetches. */
function expectedStamp() {
  return {
    version: pin.version,
    sha256: pin.sha256,
    debian: pin.debian.revision,
    debianPatches: pin.debian.series,
    patches: pin.patches.map((p) => ({ file: p.file, sha256: sha256(path.join(depsDir, 'patches', p.file)) })),
  };
}

function isComplete(dest) {
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(dest, STAMP), 'utf8'));
    return JSON.stringify(stamp) === JSON.stringify(expectedStamp());
  } catch {
    return false;
  }
}

/** deb URIs of the Debian archive this machine already uses (deb822 and one-line formats). */
function machineDebianUris() {
  const uris = new Map(); // uri -> signed-by
  const files = [];
  if (fs.existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  const partsDir = '/etc/apt/sources.list.d';
  if (fs.existsSync(partsDir)) {
    for (const f of fs.readdirSync(partsDir)) {
      if (f.endsWith('.list') || f.endsWith('.sources')) files.push(path.join(partsDir, f));
    }
  }
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name) => {
          const m = stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'));
          return m ? m[1].trim() : '';
        };
        if (/^enabled:\s*no/mi.test(stanza)) continue;
        if (!field('Types').split(/\s+/).includes('deb')) continue;
        for (const uri of field('URIs').split(/\s+/)) {
          if (/\/debian\/?$/.test(uri)) uris.set(uri, field('Signed-By'));
        }
      }
    } else {
      for (const line of text.split('\n')) {
        const m = line.match(/^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
        if (!m || !/\/debian\/?$/.test(m[2])) continue;
        const signed = m[1] && m[1].match(/signed-by=(\S+?)[\s\]]/);
        uris.set(m[2], signed ? signed[1] : '');
      }
    }
  }
  return uris;
}

/** Downloads the pinned Debian source package into `outDir` with a private apt configuration. */
function aptSource(outDir) {
  const uris = machineDebianUris();
  if (uris.size === 0) {
    throw new FetchError('no Debian archive found in /etc/apt sources; set LIBSSH2_TARBALL and LIBSSH2_DEBIAN_TARBALL instead');
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-apt-'));
  try {
    const stanzas = [...uris].map(([uri, signedBy]) => [
      'Types: deb-src',
      `URIs: ${uri}`,
      `Suites: ${pin.debian.suites.join(' ')}`,
      'Components: main',
      signedBy ? `Signed-By: ${signedBy}` : '',
    ].filter(Boolean).join('\n'));
    fs.writeFileSync(path.join(tmp, 'libssh2-src.sources'), stanzas.join('\n\n') + '\n');
    for (const d of ['lists/partial', 'cache/archives/partial']) fs.mkdirSync(path.join(tmp, d), { recursive: true });
    const aptOpts = [
      '-o', 'Dir::Etc::SourceList=/dev/null',
      '-o', `Dir::Etc::SourceParts=${tmp}`,
      '-o', `Dir::State::Lists=${tmp}/lists`,
      '-o', `Dir::Cache=${tmp}/cache`,
      '-o', 'Debug::NoLocking=1',
      '-o', 'APT::Sandbox::User=' + (process.getuid && process.getuid() === 0 ? 'root' : os.userInfo().username),
      '-q',
    ];
    log(`apt-get update (private configuration in ${tmp})`);
    run('apt-get', [...aptOpts, 'update'], { cwd: tmp });
    log(`apt-get source --download-only ${pin.debian.package}=${pin.debian.revision}`);
    run('apt-get', [...aptOpts, 'source', '--download-only', `${pin.debian.package}=${pin.debian.revision}`], { cwd: outDir });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Returns { orig, debian } paths of verified files, downloading them when needed. */
function obtainTarballs() {
  const cache = path.join(depsDir, '.cache');
  const cachedOrig = path.join(cache, pin.tarball);
  const cachedDeb = path.join(cache, pin.debian.tarball);
  let orig = process.env.LIBSSH2_TARBALL;
  let debian = process.env.LIBSSH2_DEBIAN_TARBALL;
  if (orig) {
    verify(orig, pin.sha256, 'the libssh2 tarball (LIBSSH2_TARBALL)');
    if (!debian && fs.existsSync(cachedDeb)) debian = cachedDeb;
    if (!debian) {
      throw new FetchError('LIBSSH2_TARBALL is set but LIBSSH2_DEBIAN_TARBALL is not: the security patches ' +
        `come from Debian's ${pin.debian.tarball}; set LIBSSH2_DEBIAN_TARBALL to it`);
    }
    verify(debian, pin.debian.sha256, "Debian's patch tarball (LIBSSH2_DEBIAN_TARBALL)");
    return { orig, debian };
  }
  if (!fs.existsSync(cachedOrig) || !fs.existsSync(cachedDeb)) {
    fs.mkdirSync(cache, { recursive: true });
    const dl = fs.mkdtempSync(path.join(cache, 'dl-'));
    try {
      aptSource(dl);
      for (const f of [pin.tarball, pin.debian.tarball]) {
        if (!fs.existsSync(path.join(dl, f))) throw new FetchError(`apt-get source did not produce ${f}`);
      }
      verify(path.join(dl, pin.tarball), pin.sha256, 'the libssh2 tarball');
      verify(path.join(dl, pin.debian.tarball), pin.debian.sha256, "Debian's patch tarball");
      fs.renameSync(path.join(dl, pin.tarball), cachedOrig);
      fs.renameSync(path.join(dl, pin.debian.tarball), cachedDeb);
    } finally {
      fs.rmSync(dl, { recursive: true, force: true });
    }
  }
  verify(cachedOrig, pin.sha256, 'the cached libssh2 tarball');
  verify(cachedDeb, pin.debian.sha256, "the cached Debian patch tarball");
  return { orig: cachedOrig, debian: cachedDeb };
}

function applyPatch(tree, patchFile, label) {
  const r = spawnSync('patch', ['-p1', '--forward', '--batch', '--no-backup-if-mismatch', '-i', patchFile],
    { cwd: tree, encoding: 'utf8' });
  if (r.error) throw new FetchError(`cannot run patch (install the 'patch' package): ${r.error.message}`);
  if (r.status !== 0) throw new FetchError(`patch ${label} does not apply:\n${r.stdout}${r.stderr}`);
  log(`applied ${label}`);
}

function readSeries(seriesFile) {
  return fs.readFileSync(seriesFile, 'utf8').split('\n')
    .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

function main() {
  const args = process.argv.slice(2);
  const destIdx = args.indexOf('--dest');
  const dest = path.resolve(destIdx >= 0 ? args[destIdx + 1] : path.join(depsDir, 'libssh2'));
  if (args.includes('--if-missing') && isComplete(dest)) return;

  const { orig, debian } = obtainTarballs();
  const work = fs.mkdtempSync(path.join(path.dirname(dest), '.libssh2-work-'));
  try {
    run('tar', ['-xzf', orig, '-C', work]);
    const tree = path.join(work, `libssh2-${pin.version}`);
    if (!fs.existsSync(tree)) throw new FetchError(`the tarball did not contain libssh2-${pin.version}/`);
    const debDir = path.join(work, 'debian-src');
    fs.mkdirSync(debDir);
    run('tar', ['-xJf', debian, '-C', debDir]);
    const series = readSeries(path.join(debDir, 'debian', 'patches', 'series'));
    if (JSON.stringify(series) !== JSON.stringify(pin.debian.series)) {
      throw new FetchError(`Debian's series differs from the pin in libssh2.json:\n  series: ${series.join(' ')}\n  pinned: ${pin.debian.series.join(' ')}`);
    }
    // Keep the applied patches inside the tree: the tests check that each one is in effect.
    const kept = path.join(tree, '.patches');
    fs.mkdirSync(kept);
    for (const p of series) {
      const file = path.join(debDir, 'debian', 'patches', p);
      applyPatch(tree, file, `debian/${p}`);
      fs.copyFileSync(file, path.join(kept, `debian-${p}`));
    }
    for (const p of pin.patches) {
      const file = path.join(depsDir, 'patches', p.file);
      applyPatch(tree, file, `deps/patches/${p.file}`);
      fs.copyFileSync(file, path.join(kept, `ours-${p.file}`));
    }
    fs.writeFileSync(path.join(tree, STAMP), JSON.stringify(expectedStamp()));
    fs.rmSync(dest, { recursive: true, force: true });
    fs.renameSync(tree, dest);
    log(`libssh2 ${pin.version} (Debian ${pin.debian.revision} security patches, ${pin.patches.length} own patches) ready in ${dest}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (e) {
  if (!(e instanceof FetchError)) throw e;
  log(`error: ${e.message}`);
  process.exit(1);
}
