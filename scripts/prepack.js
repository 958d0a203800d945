#!/usr/bin/env node
'use strict';
/**
 * `npm pack` / `npm publish` step: make the tarball complete, so installing it never fetches
 * and needs no compiler where a prebuild matches:
 *   1. deps/libssh2 fetched and patched (deps/fetch.js --if-missing); the package ships its src/,
 *      include/ and COPYING (package.json "files"), not deps/fetch.js;
 *   2. the prebuild for this platform (npm run prebuild) when missing or older than the sources;
 *   3. libssh2's license text copied to LICENSE.libssh2 (git-ignored);
 *   4. dist/ removed, so `prepare` (which npm runs right after) rebuilds it without stale files.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { newestSource } = require('./native-build');

const root = path.join(__dirname, '..');

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) process.exit(r.status || 1);
}

run([path.join(root, 'deps', 'fetch.js'), '--if-missing']);

const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const builds = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
const oldest = Math.min(...builds.map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
if (!builds.length || oldest < newestSource(root)) run([path.join(__dirname, 'prebuild.js')]);

fs.copyFileSync(path.join(root, 'deps', 'libssh2', 'COPYING'), path.join(root, 'LICENSE.libssh2'));
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
