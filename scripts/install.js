#!/usr/bin/env node
'use strict';
/**
 * `npm install` step. Two cases:
 *
 * * A git checkout (deps/fetch.js is there): fetch libssh2 into deps/libssh2 when it is
 *   missing, then build the addon with node-gyp against the running Node's own headers
 *   (nothing is downloaded). Skips the build when build/Release/node_libssh2.node is newer
 *   than every source, unless --force.
 * * The npm package (`npm pack` leaves deps/fetch.js out and ships the patched libssh2 source):
 *   use the prebuild for this platform from prebuilds/ when one matches and loads; otherwise
 *   (or with LIBSSH2_BUILD_FROM_SOURCE=1 or `npm install --build-from-source`) build from the shipped
 *   source. Never fetches anything.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { nodeDir, nodeGyp, newestSource } = require('./native-build');

const root = path.join(__dirname, '..');
const force = process.argv.includes('--force');
const fromSource = force || process.argv.includes('--build-from-source') ||
  ['true', '1'].includes(String(process.env.LIBSSH2_BUILD_FROM_SOURCE ?? process.env.npm_config_build_from_source));
const addon = path.join(root, 'build', 'Release', 'node_libssh2.node');
const fetchScript = path.join(root, 'deps', 'fetch.js');
const libssh2Dir = path.join(root, 'deps', 'libssh2');

function log(msg) {
  process.stderr.write(`libssh2 install: ${msg}\n`);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) log(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) process.exit(r.status || 1);
}

/** The prebuild node-gyp-build picks for this platform, if it loads here. */
function usablePrebuild() {
  let file;
  try {
    const nodeGypBuild = require('node-gyp-build');
    file = nodeGypBuild.resolve(root);
  } catch {
    return null;
  }
  try {
    require(file);
    return file;
  } catch (e) {
    log(`the prebuild ${path.relative(root, file)} does not load here (${e.message.split('\n')[0]})`);
    return null;
  }
}

/** The shipped source is complete: the fetch stamp and every file binding.gyp compiles. */
function checkShippedSource() {
  const sources = JSON.parse(fs.readFileSync(path.join(root, 'deps', 'sources.json'), 'utf8')).libssh2;
  const missing = ['.libssh2-stamp.json', 'include/libssh2.h', ...sources.map((f) => `src/${f}`)]
    .filter((f) => !fs.existsSync(path.join(libssh2Dir, f)));
  if (missing.length) {
    log(`the package's libssh2 source is incomplete (missing ${missing.slice(0, 3).join(', ')}); ` +
      'reinstall the package');
    process.exit(1);
  }
}

if (fs.existsSync(fetchScript)) {
  run(process.execPath, [fetchScript, '--if-missing']);
  if (!force && fs.existsSync(addon) && fs.statSync(addon).mtimeMs >= newestSource(root)) process.exit(0);
} else {
  if (!fromSource) {
    const prebuild = usablePrebuild();
    if (prebuild) {
      log(`using the prebuilt ${path.relative(root, prebuild)}`);
      process.exit(0);
    }
    log('no usable prebuild for this platform: building from the shipped libssh2 source');
  }
  checkShippedSource();
}
const jobs = String(Math.max(1, require('os').availableParallelism?.() ?? 2));
run(process.execPath, [nodeGyp(), 'rebuild', `--nodedir=${nodeDir()}`, '-j', jobs]);
