#!/usr/bin/env node
'use strict';
/**
 * clang-format for binding/ with the repository's .clang-format, through the `clang-format`
 * npm package's binary (no system clang-format needed).
 *
 *   node scripts/clang-format.js            check: exit 1 and show the first differences of every
 *                                           file whose formatting differs
 *   node scripts/clang-format.js --fix [F]  reformat the files F (default: every checked file)
 *
 * Files listed in .clang-format-pending (hand-formatted before the check existed) are skipped by
 * the check until their owner formats them (`npm run format -- binding/x.cc`, then delete the
 * line); every other .cc/.h file under binding/, including new ones, must be formatted.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const fix = args.includes('--fix');
const named = args.filter((a) => !a.startsWith('--'));

function binary() {
  const dir = { linux: 'linux_x64', darwin: 'darwin_x64', win32: 'win32' }[process.platform];
  const name = process.platform === 'win32' ? 'clang-format.exe' : 'clang-format';
  const exe = path.join(path.dirname(require.resolve('clang-format/package.json')), 'bin', dir ?? '', name);
  if (!dir || !fs.existsSync(exe)) {
    throw new Error(`clang-format: no binary for ${process.platform}-${process.arch} in the clang-format package`);
  }
  return exe;
}

const pendingFile = path.join(root, '.clang-format-pending');
const pending = new Set(fs.existsSync(pendingFile)
  ? fs.readFileSync(pendingFile, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)
  : []);

const all = fs.readdirSync(path.join(root, 'binding')).filter((f) => /\.(cc|h)$/.test(f)).map((f) => `binding/${f}`).sort();
const files = named.length ? named.map((f) => path.relative(root, path.resolve(f))) : all.filter((f) => fix || !pending.has(f));
const exe = binary();

if (fix) {
  const r = spawnSync(exe, ['-i', '--style=file', ...files], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

let bad = 0;
for (const f of files) {
  const src = fs.readFileSync(path.join(root, f), 'utf8');
  const r = spawnSync(exe, ['--style=file', `--assume-filename=${f}`], { cwd: root, input: src, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`clang-format failed on ${f}: ${r.stderr}`);
  if (r.stdout === src) continue;
  bad++;
  const a = src.split('\n');
  const b = r.stdout.split('\n');
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  console.error(`${f}:${i + 1}: not clang-formatted (npm run format -- ${f}):\n  - ${a[i] ?? ''}\n  + ${b[i] ?? ''}`);
}
const skipped = named.length ? 0 : [...pending].filter((f) => all.includes(f)).length;
if (bad) {
  console.error(`clang-format: ${bad} of ${files.length} files differ`);
  process.exit(1);
}
console.log(`clang-format: ${files.length} files formatted${skipped ? ` (${skipped} pending in .clang-format-pending)` : ''}`);
