#!/usr/bin/env node
'use strict';
/**
 * `npm install` step: fetch libssh2 into deps/libssh2 when it is missing, then build the addon
 * with node-gyp against the running Node's own headers (nothing is downloaded). Skips the build
 * when build/Release/node_libssh2.node is newer than every source, unless --force.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { nodeDir, nodeGyp } = require('./native-build');

const root = path.join(__dirname, '..');
const force = process.argv.includes('--force');
const addon = path.join(root, 'build', 'Release', 'node_libssh2.node');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status || 1);
}

function newestSource() {
  let newest = 0;
  const visit = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) for (const f of fs.readdirSync(p)) visit(path.join(p, f));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['binding', 'binding.gyp', 'deps/sources.json', 'deps/config', 'deps/libssh2/.libssh2-stamp.json']) {
    if (fs.existsSync(path.join(root, p))) visit(path.join(root, p));
  }
  return newest;
}

run(process.execPath, [path.join(root, 'deps', 'fetch.js'), '--if-missing']);
if (!force && fs.existsSync(addon) && fs.statSync(addon).mtimeMs >= newestSource()) process.exit(0);
const jobs = String(Math.max(1, require('os').availableParallelism?.() ?? 2));
run(process.execPath, [nodeGyp(), 'rebuild', `--nodedir=${nodeDir()}`, '-j', jobs]);
