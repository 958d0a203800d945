#!/usr/bin/env node
'use strict';
/**
 * Builds the C reference clients (bench/c/*.c) into bench/c/build/ on the vendored libssh2
 * (deps/libssh2, the sources listed in deps/sources.json), with the addon's configuration and
 * -O3 like its Release build, linked against the system libcrypto and zlib (libssl-dev and
 * zlib1g-dev). Objects are rebuilt when older than their source, any libssh2 or deps/config
 * header, or deps/libssh2/.libssh2-stamp.json (a re-fetch); a client when older than its source,
 * bench/c/*.h or an object. Usage: node bench/build-c.js [--force]
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const root = path.join(__dirname, '..');
const out = path.join(__dirname, 'c', 'build');
const force = process.argv.includes('--force');
const CC = process.env.CC || 'cc';
const CFLAGS = [
  '-O3', '-g', '-std=gnu99', '-DHAVE_CONFIG_H', '-DLIBSSH2_OPENSSL', '-DLIBSSH2_HAVE_ZLIB', '-D_GNU_SOURCE',
  `-I${path.join(root, 'deps/config')}`, `-I${path.join(root, 'deps/libssh2/include')}`,
  `-I${path.join(root, 'deps/libssh2/src')}`,
];
const LIBS = ['-lcrypto', '-lz'];

function run(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(CC, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${CC} ${args.join(' ')} exited with ${code}`))));
  });
}

const mtime = (f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : 0);

/** Runs `jobs` (functions returning promises) with at most `limit` in flight. */
async function pool(jobs, limit) {
  const queue = [...jobs];
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length > 0) await queue.shift()();
  }));
}

async function main() {
  const srcDir = path.join(root, 'deps/libssh2/src');
  if (!fs.existsSync(srcDir)) throw new Error('deps/libssh2 is missing: run `node deps/fetch.js` first');
  const objDir = path.join(out, 'obj');
  fs.mkdirSync(objDir, { recursive: true });
  // Every object depends on every header: a patch that changes a struct in libssh2_priv.h must
  // rebuild all objects, or objects with two layouts of LIBSSH2_SESSION get linked together.
  // The stamp is rewritten whenever deps/fetch.js lays the tree (and its patches) anew.
  const inDir = (dir, ext) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => !ext || f.endsWith(ext)).map((f) => path.join(dir, f)) : []);
  const headers = [
    ...inDir(path.join(root, 'deps/config')),
    ...inDir(srcDir, '.h'),
    ...inDir(path.join(root, 'deps/libssh2/include'), '.h'),
    path.join(root, 'deps/libssh2/.libssh2-stamp.json'),
  ];
  const configTime = Math.max(...headers.map(mtime));

  const sources = require(path.join(root, 'deps/sources.json')).libssh2.map((f) => path.join(srcDir, f));
  const objects = sources.map((src) => path.join(objDir, path.basename(src, '.c') + '.o'));
  const stale = sources.filter((src, i) => force || mtime(objects[i]) < Math.max(mtime(src), configTime));
  await pool(stale.map((src) => () => run([...CFLAGS, '-w', '-c', src, '-o', path.join(objDir, path.basename(src, '.c') + '.o')])),
    os.availableParallelism?.() ?? os.cpus().length);

  const newestObject = Math.max(...objects.map(mtime));
  // bench/c/*.h (shared code of the clients) count as sources of every client.
  const newestHeader = Math.max(0, ...fs.readdirSync(path.join(__dirname, 'c')).filter((f) => f.endsWith('.h'))
    .map((f) => mtime(path.join(__dirname, 'c', f))));
  for (const prog of fs.readdirSync(path.join(__dirname, 'c')).filter((f) => f.endsWith('.c'))) {
    const src = path.join(__dirname, 'c', prog);
    const bin = path.join(out, path.basename(prog, '.c'));
    if (!force && mtime(bin) >= Math.max(mtime(src), newestHeader, newestObject)) continue;
    await run([...CFLAGS, '-Wall', '-Wextra', src, ...objects, ...LIBS, '-o', bin]);
    console.log(`built ${path.relative(root, bin)}`);
  }
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
