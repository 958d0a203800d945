#!/usr/bin/env node
'use strict';
/**
 * `npm run prebuild`: one N-API prebuild for this platform with prebuildify
 * (prebuilds/<platform>-<arch>/libssh2.glibc.node, stripped), built by node-gyp against the
 * running Node's own headers and OpenSSL (npm_config_nodedir: nothing is downloaded). N-API 8
 * makes it load in every Node >= 20. The package ships prebuilds/; node-gyp-build picks it.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { nodeDir, nodeGyp } = require('./native-build');

const root = path.join(__dirname, '..');
const r0 = spawnSync(process.execPath, [path.join(root, 'deps', 'fetch.js'), '--if-missing'], { stdio: 'inherit' });
if (r0.status !== 0) process.exit(r0.status || 1);

const bin = require.resolve('prebuildify/bin.js');
const args = [bin, '--napi', '--strip', '--tag-libc', '--target', process.versions.node, '--node-gyp', nodeGyp()];
// JOBS: node-gyp's parallel make (one job per CPU), as install.js's `-j`.
const jobs = String(Math.max(1, require('os').availableParallelism?.() ?? 2));
const env = { ...process.env, npm_config_nodedir: nodeDir(), JOBS: process.env.JOBS || jobs };
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
if (r.status !== 0) process.exit(r.status || 1);
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const built = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
for (const f of built) console.log(path.join('prebuilds', path.basename(dir), f));
// prebuildify moved the addon out of build/Release: put the same build back, so the checkout
// keeps loading (and install.js keeps considering fresh) build/Release as before.
const release = path.join(root, 'build', 'Release', 'node_libssh2.node');
if (built.length === 1 && !fs.existsSync(release)) fs.copyFileSync(path.join(dir, built[0]), release);
