#!/usr/bin/env node
'use strict';
/**
 * Development build with CMake (Debug; --asan adds AddressSanitizer + UBSan).
 * Output: build/Debug/node_libssh2.node, or build-asan/Debug/node_libssh2.node with --asan.
 * Uses the running Node's headers; downloads nothing.
 */
const path = require('path');
const fs = require('fs');
const { spawnSync } = require('child_process');
const { nodeDir } = require('./native-build');

const root = path.join(__dirname, '..');
const asan = process.argv.includes('--asan');
const buildDir = path.join(root, asan ? 'build-asan' : 'build-cmake');
const outDir = path.join(root, asan ? 'build-asan' : 'build', 'Debug');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status || 1);
}

run(process.execPath, [path.join(root, 'deps', 'fetch.js'), '--if-missing']);
run('cmake', ['-S', root, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Debug', `-DSANITIZE=${asan ? 'ON' : 'OFF'}`,
  `-DNODE_INCLUDE_DIR=${path.join(nodeDir(), 'include', 'node')}`,
  `-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=${outDir}`]);
run('cmake', ['--build', buildDir, '-j', String(require('os').availableParallelism?.() ?? 2)]);
fs.copyFileSync(path.join(buildDir, 'compile_commands.json'), path.join(root, 'compile_commands.json'));
console.log(`built ${path.join(outDir, 'node_libssh2.node')}`);
