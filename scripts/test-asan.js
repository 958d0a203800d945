#!/usr/bin/env node
'use strict';
/**
 * Runs the native-facing test suites against the ASan + UBSan build: builds it with CMake
 * (scripts/build-cmake.js --asan), preloads libasan into node, points lib/native.ts at the
 * sanitized addon (LIBSSH2_NODE_ADDON) and runs jest in-band. Any sanitizer report fails the run
 * (halt_on_error). Leak detection is off: node itself does not free everything at exit.
 * Extra arguments go to jest (e.g. a test path).
 */
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const build = spawnSync(process.execPath, [path.join(__dirname, 'build-cmake.js'), '--asan'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status || 1);

const libasan = spawnSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout.trim();
const env = {
  ...process.env,
  LD_PRELOAD: libasan,
  ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=0',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  LIBSSH2_NODE_ADDON: path.join(root, 'build-asan', 'Debug', 'node_libssh2.node'),
  LIBSSH2_ASAN: '1',
};
const jest = require.resolve('jest/bin/jest');
const r = spawnSync(process.execPath, [jest, '--runInBand', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit', env });
process.exit(r.status === null ? 1 : r.status);
